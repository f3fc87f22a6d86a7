/**
 * The scenario's `tcp:` section: the TCP sysctls every namespace gets
 * (net.ipv4.tcp_congestion_control, tcp_sack, tcp_wmem, tcp_rmem), checked as Linux
 * checks them, and handed to each namespace's TCP layer as TcpParams. A node's
 * own `tcp:` overrides them, field by field, for the node and its pods (each
 * namespace has its own net.ipv4.tcp_* in Linux).
 */
import type { TcpParams } from '../models/stack/tcp/params.js';
import type { PathSegment } from './errors.js';
import type { Problems } from './problems.js';
import type { RawTcpSettings } from './raw-scenario.js';
import type { TopologySpec } from './topology.js';

export type TcpSettings = Partial<Pick<TcpParams, 'congestionControl' | 'sack' | 'wmem' | 'rmem'>>;

/** `at`: where the section was written (the scenario's `tcp`, or a node's `nodes[i].tcp`), for errors. */
export function tcpSettings(problems: Problems, raw: RawTcpSettings, at: PathSegment[] = ['tcp']): TcpSettings {
  const out: TcpSettings = {};
  if (raw.congestionControl !== undefined) out.congestionControl = raw.congestionControl;
  if (raw.sack !== undefined) out.sack = raw.sack;
  for (const key of ['wmem', 'rmem'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    // proc_dointvec_minmax accepts any three; the buffers clamp default and max to at least min.
    // A default above max or a min above the default is almost surely a typo: refuse it.
    const [min, dflt, max] = v;
    if (!(min <= dflt && dflt <= max)) {
      problems.fail([...at, key], `must be [min, default, max] with min <= default <= max, got [${v.join(', ')}]`);
      continue;
    }
    out[key] = [min, dflt, max];
  }
  return out;
}

/**
 * The settings of each component whose node has a `tcp:` of its own: the
 * scenario's, then the node's, field by field. A node's pods run in its
 * component, so they get the node's settings too.
 */
export function nodeTcpSettings(spec: TopologySpec): Map<string, TcpSettings> {
  const out = new Map<string, TcpSettings>();
  for (const ns of spec.namespaces) if (ns.tcp !== undefined) out.set(ns.component, { ...spec.tcp, ...ns.tcp });
  return out;
}

/** The TCP settings the namespaces of `component` run with (nodeTcpSettings for one component). */
export function tcpSettingsOf(spec: TopologySpec, component: string): TcpSettings {
  const own = spec.namespaces.find((ns) => ns.component === component && ns.tcp !== undefined)?.tcp;
  return own === undefined ? (spec.tcp ?? {}) : { ...spec.tcp, ...own };
}
