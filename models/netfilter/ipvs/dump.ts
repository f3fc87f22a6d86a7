/**
 * What ipvsadm prints: `ipvsadm -Ln` (the service table, services and their
 * real servers sorted as ipvsadm sorts them) and `ipvsadm -Lnc` (the
 * connection table, here sorted for stable output; the kernel lists hash order).
 */
import { SECOND } from '../../../engine/time.js';
import { formatIpv4 } from '../../wire/addr.js';
import type { Ipvs } from './ipvs.js';
import { protocolName } from './service.js';
import { TCP_STATE_NAMES } from './tcp-state.js';
import { IPPROTO_TCP } from '../../wire/ipv4.js';

/** IP_VS_CONN_TAB_SIZE with the default CONFIG_IP_VS_TAB_BITS=12. */
const CONN_TAB_SIZE = 4096;

export function ipvsadmList(ipvs: Ipvs): string {
  const out = [
    `IP Virtual Server version 1.2.1 (size=${CONN_TAB_SIZE})`,
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
  ];
  const svcs = [...ipvs.services.values()].sort((a, b) => a.protocol - b.protocol || a.addr - b.addr || a.port - b.port);
  ipvs.conns.entries(); // reap expired connections so the counters are current
  for (const s of svcs) {
    let line = `${protocolName(s.protocol)}  ${formatIpv4(s.addr)}:${s.port} ${s.scheduler}`;
    if (s.persistenceTimeout > 0) line += ` persistent ${s.persistenceTimeout}`;
    out.push(line);
    const dests = [...s.dests].sort((a, b) => a.addr - b.addr || a.port - b.port);
    for (const d of dests) {
      out.push(`  -> ${`${formatIpv4(d.addr)}:${d.port}`.padEnd(28)} ${'Masq'.padEnd(7)} ${String(d.weight).padEnd(6)} ${String(d.activeConns).padEnd(10)} ${d.inactConns}`);
    }
  }
  return out.join('\n') + '\n';
}

export function ipvsadmConnections(ipvs: Ipvs, now: number): string {
  const out = ['IPVS connection entries', 'pro expire state       source             virtual            destination'];
  const conns = ipvs.conns
    .entries()
    .sort((a, b) => a.vaddr - b.vaddr || a.vport - b.vport || a.protocol - b.protocol || a.caddr - b.caddr || a.cport - b.cport);
  for (const c of conns) {
    const left = Math.max(0, Math.floor((c.expiresAt - now) / SECOND));
    const expire = `${String(Math.floor(left / 60)).padStart(2, '0')}:${String(left % 60).padStart(2, '0')}`;
    const state = c.isTemplate ? 'NONE' : c.protocol === IPPROTO_TCP ? TCP_STATE_NAMES[c.state] : 'UDP';
    const src = `${formatIpv4(c.caddr)}:${c.cport}`;
    const vip = `${formatIpv4(c.vaddr)}:${c.vport}`;
    out.push(`${protocolName(c.protocol).padEnd(3)} ${expire}  ${state.padEnd(11)} ${src.padEnd(18)} ${vip.padEnd(18)} ${formatIpv4(c.daddr)}:${c.dport}`);
  }
  return out.join('\n') + '\n';
}
