/**
 * The portmap plugin (plugins/meta/portmap, iptables backend), chained after a
 * main plugin: for the runtime's portMappings it writes, in the nat table,
 *   PREROUTING, OUTPUT: -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
 *   CNI-HOSTPORT-DNAT: per protocol, -m multiport --dports P,.. -j CNI-DN-<hash> (inserted first)
 *   CNI-DN-<hash>: per mapping, mark hairpin (-s <pod net>) and localhost
 *     (-s 127.0.0.1) for masquerade, then DNAT --to-destination <pod ip>:<port>
 *   CNI-HOSTPORT-SETMARK: MARK --set-xmark <1<<markMasqBit>
 *   POSTROUTING (inserted first): -j CNI-HOSTPORT-MASQ: -m mark --mark .. -j MASQUERADE
 * (portmap_iptables.go fillDnatRules, genSetMarkChain, genMarkMasqChain), as
 * iptables-save prints them. Without mappings it passes prevResult through.
 */
import { cidrNetwork, formatIpv4, parseCidr } from '../ipv4.js';
import { CniConfigError, type Fields } from './fields.js';
import { chainName, type NatTable, quoteArg } from './nat-table.js';
import { CNI_ERR, CniError, type PluginCall, type PortMapping } from './plugin.js';
import type { CniResult } from './result.js';

export const DNAT_CHAIN = 'CNI-HOSTPORT-DNAT';
export const SETMARK_CHAIN = 'CNI-HOSTPORT-SETMARK';
export const MASQ_CHAIN = 'CNI-HOSTPORT-MASQ';

export interface PortmapConf {
  type: 'portmap';
  /** capabilities.portMappings: the runtime passes the pod's mappings. */
  wantsPortMappings: boolean;
  /** runtimeConfig.portMappings written in the configuration itself. */
  staticMappings: PortMapping[];
  snat: boolean;
  markMasqBit: number;
  externalSetMarkChain?: string;
  masqAll: boolean;
}

export function parsePortmap(f: Fields): PortmapConf {
  const caps = f.object('capabilities');
  let wants = false;
  if (caps !== undefined) {
    wants = caps.bool('portMappings') ?? false;
    caps.done();
  }
  const rc = f.object('runtimeConfig');
  let staticMappings: PortMapping[] = [];
  if (rc !== undefined) {
    staticMappings = parsePortMappings(rc.arr('portMappings') ?? [], rc.file, rc.at('portMappings'));
    rc.done();
  }
  const external = f.str('externalSetMarkChain');
  const markMasqBit = f.int('markMasqBit', 0, 31);
  if (external !== undefined && markMasqBit !== undefined) f.fail('markMasqBit', 'cannot be set together with externalSetMarkChain');
  const conf: PortmapConf = {
    type: 'portmap',
    wantsPortMappings: wants,
    staticMappings,
    snat: f.bool('snat') ?? true,
    markMasqBit: markMasqBit ?? 13,
    ...(external !== undefined ? { externalSetMarkChain: external } : {}),
    masqAll: f.bool('masqAll') ?? false,
  };
  f.done();
  return conf;
}

/** runtimeConfig.portMappings entries: {hostPort, containerPort, protocol, hostIP?}. */
export function parsePortMappings(list: unknown[], file: string, path: string): PortMapping[] {
  return list.map((m, i) => {
    const at = `${path}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new CniConfigError(file, at, 'must be an object');
    const o = m as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['hostPort', 'containerPort', 'protocol', 'hostIP'].includes(k)) throw new CniConfigError(file, `${at}.${k}`, 'unsupported option');
    const port = (k: string): number => {
      const v = o[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new CniConfigError(file, `${at}.${k}`, 'must be a port from 1 to 65535');
      return v;
    };
    const protocol = String(o.protocol ?? 'tcp').toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp') throw new CniConfigError(file, `${at}.protocol`, `"${protocol}" is not supported (tcp or udp)`);
    const hostIP = o.hostIP;
    if (hostIP !== undefined && (typeof hostIP !== 'string' || (hostIP !== '' && parseCidr(`${hostIP}/32`) === undefined))) {
      throw new CniConfigError(file, `${at}.hostIP`, 'not an IPv4 address');
    }
    return { hostPort: port('hostPort'), containerPort: port('containerPort'), protocol, ...(typeof hostIP === 'string' && hostIP !== '' ? { hostIP } : {}) };
  });
}

function mappings(conf: PortmapConf, call: PluginCall): PortMapping[] {
  return conf.wantsPortMappings && call.att.portMappings !== undefined ? call.att.portMappings : conf.staticMappings;
}

function markDef(bit: number): string {
  const v = `0x${(1 << bit >>> 0).toString(16)}`;
  return `${v}/${v}`;
}

export function portmapAdd(conf: PortmapConf, call: PluginCall): CniResult {
  const prev = call.prevResult;
  if (prev === undefined) throw new CniError(CNI_ERR.invalidConfig, 'must be called as chained plugin');
  const maps = mappings(conf, call);
  if (maps.length === 0) return prev;
  const ip = prev.ips.find((x) => x.address.includes('.'));
  if (ip === undefined) return prev;
  const nat = call.host.nat;
  const setMark = conf.externalSetMarkChain ?? SETMARK_CHAIN;
  if (conf.snat && conf.externalSetMarkChain === undefined) {
    nat.appendUnique(SETMARK_CHAIN, `-m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark ${markDef(conf.markMasqBit)}`);
    nat.appendUnique(MASQ_CHAIN, `-m mark --mark ${markDef(conf.markMasqBit)} -j MASQUERADE`);
    nat.insertUnique('POSTROUTING', `-m comment --comment "CNI portfwd requiring masquerade" -j ${MASQ_CHAIN}`);
  }
  nat.ensureChain(DNAT_CHAIN);
  for (const c of ['PREROUTING', 'OUTPUT']) nat.appendUnique(c, `-m addrtype --dst-type LOCAL -j ${DNAT_CHAIN}`);
  const dn = chainName(call.network, call.att.containerId, 'DN-');
  nat.deleteChain(dn);
  const rules = nat.ensureChain(dn);
  const addr = parseCidr(ip.address)!;
  const podIp = formatIpv4(addr.base);
  const masqNet = conf.masqAll ? '0.0.0.0/0' : `${formatIpv4(cidrNetwork(addr))}/${addr.len}`;
  for (const m of maps) {
    const dst = m.hostIP !== undefined && m.hostIP !== '0.0.0.0' ? `-d ${m.hostIP}/32 ` : '';
    const base = `-p ${m.protocol} -m ${m.protocol} --dport ${m.hostPort}`;
    if (conf.snat) {
      rules.push(`${srcFirst(masqNet, dst)}${base} -j ${setMark}`);
      if (!conf.masqAll) rules.push(`${srcFirst('127.0.0.1/32', dst)}${base} -j ${setMark}`);
    }
    rules.push(`${dst}${base} -j DNAT --to-destination ${podIp}:${m.containerPort}`);
  }
  // Entry rules: one per protocol (sorted), at most 15 ports per multiport match, prepended so the newest wins.
  const comment = quoteArg(`dnat name: ${JSON.stringify(call.network)} id: ${JSON.stringify(call.att.containerId)}`);
  const entries: string[] = [];
  for (const proto of [...new Set(maps.map((m) => m.protocol))].sort()) {
    const ports = [...new Set(maps.filter((m) => m.protocol === proto).map((m) => m.hostPort))];
    for (let i = 0; i < ports.length; i += 15) {
      entries.push(`-p ${proto} -m comment --comment ${comment} -m multiport --dports ${ports.slice(i, i + 15).join(',')} -j ${dn}`);
    }
  }
  for (let i = entries.length - 1; i >= 0; i--) nat.insertUnique(DNAT_CHAIN, entries[i]!);
  return prev;
}

/** iptables-save prints -s before -d. */
function srcFirst(src: string, dst: string): string {
  return `-s ${src} ${dst}`;
}

export function portmapDel(_conf: PortmapConf, call: PluginCall, nat: NatTable = call.host.nat): void {
  nat.deleteChain(chainName(call.network, call.att.containerId, 'DN-'));
}
