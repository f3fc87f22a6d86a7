/**
 * The scenario's `tcp:` section: the TCP sysctls every namespace gets
 * (net.ipv4.tcp_congestion_control, tcp_sack, tcp_wmem, tcp_rmem), checked as Linux
 * checks them, and handed to each namespace's TCP layer as TcpParams.
 */
import type { TcpParams } from '../models/stack/tcp/params.js';
import type { Problems } from './problems.js';
import type { RawTcpSettings } from './raw-scenario.js';

export type TcpSettings = Partial<Pick<TcpParams, 'congestionControl' | 'sack' | 'wmem' | 'rmem'>>;

export function tcpSettings(problems: Problems, raw: RawTcpSettings): TcpSettings {
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
      problems.fail(['tcp', key], `must be [min, default, max] with min <= default <= max, got [${v.join(', ')}]`);
      continue;
    }
    out[key] = [min, dflt, max];
  }
  return out;
}
