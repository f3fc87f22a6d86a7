/**
 * A CNI network configuration list (SPEC.md "Configuration format"): name,
 * cniVersion, plugins[] each with a type and its own options; a single
 * network configuration (.conf, one plugin at top level) is accepted as a
 * list of one. cniVersion must be 0.4.0 to 1.1.0. Every plugin's options are
 * checked here, so a bad file fails when the scenario is read, with the file
 * and JSON path (`cni.conflist: plugins[0].ipam.ranges[0][0].subnet: not a CIDR`).
 *
 * `{{.PodCIDR}}` in the text is replaced by the node's podCIDR first, as
 * containerd's CNI conf_template does, so one file serves every node.
 */
import { type BandwidthConf, parseBandwidth } from './bandwidth.js';
import { type BridgeConf, parseBridge } from './bridge.js';
import { CniConfigError, Fields } from './fields.js';
import { type FlannelConf, parseFlannel } from './flannel.js';
import { type LoopbackConf, parseLoopback } from './loopback.js';
import { type PortmapConf, parsePortmap } from './portmap.js';
import { type PtpConf, parsePtp } from './ptp.js';

export const CNI_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;

export type PluginConf = BridgeConf | PtpConf | LoopbackConf | PortmapConf | BandwidthConf | FlannelConf;

export interface PluginEntry {
  conf: PluginConf;
  /** JSON path of the plugin's object ("plugins[0]", or "" for a single .conf). */
  path: string;
}

export interface CniConfList {
  file: string;
  name: string;
  cniVersion: string;
  plugins: PluginEntry[];
}

const PARSERS: Record<string, (f: Fields) => PluginConf> = {
  bridge: parseBridge,
  ptp: parsePtp,
  loopback: parseLoopback,
  portmap: parsePortmap,
  bandwidth: parseBandwidth,
  flannel: parseFlannel,
};

/** Parses conflist (or .conf) text; `file` names it in errors. */
export function parseConflist(text: string, file: string, vars: { podCIDR?: string } = {}): CniConfList {
  const expanded = vars.podCIDR !== undefined ? text.replaceAll('{{.PodCIDR}}', vars.podCIDR) : text;
  if (vars.podCIDR === undefined && expanded.includes('{{.PodCIDR}}')) throw new CniConfigError(file, '(text)', '{{.PodCIDR}} needs a node podCIDR');
  let json: unknown;
  try {
    json = JSON.parse(expanded);
  } catch (e) {
    throw new CniConfigError(file, '(JSON syntax)', (e as Error).message);
  }
  return conflistFromJson(json, file);
}

/** Checks an already parsed configuration (inline in a scenario). */
export function conflistFromJson(json: unknown, file: string): CniConfList {
  const top = Fields.of(json, file, '');
  const cniVersion = top.reqStr('cniVersion');
  if (!(CNI_VERSIONS as readonly string[]).includes(cniVersion)) {
    top.fail('cniVersion', `"${cniVersion}" is not supported (podwire runs ${CNI_VERSIONS.join(', ')})`);
  }
  const name = top.reqStr('name');
  if (!top.has('plugins')) {
    // A single network configuration: the object is the plugin.
    if (!top.has('type')) top.fail('plugins', 'is required (or give a single plugin configuration with "type")');
    return { file, name, cniVersion, plugins: [{ conf: plugin(top), path: '' }] };
  }
  top.allow('disableCheck', 'disableGC');
  const versions = top.arr('cniVersions');
  versions?.forEach((v, i) => {
    if (typeof v !== 'string' || !/^\d+\.\d+\.\d+$/.test(v)) throw new CniConfigError(file, `cniVersions[${i}]`, 'not a version');
  });
  const list = top.arr('plugins')!;
  if (list.length === 0) top.fail('plugins', 'must list at least one plugin');
  top.done();
  const plugins = list.map((p, i) => {
    const f = Fields.of(p, file, `plugins[${i}]`);
    return { conf: plugin(f), path: f.path };
  });
  return { file, name, cniVersion, plugins };
}

function plugin(f: Fields): PluginConf {
  const type = f.reqStr('type');
  const parse = PARSERS[type];
  if (parse === undefined) f.fail('type', `unknown plugin type "${type}" (podwire runs ${Object.keys(PARSERS).join(', ')})`);
  // libcni sets name and cniVersion of every plugin from the list.
  f.allow('name', 'cniVersion');
  return parse(f);
}
