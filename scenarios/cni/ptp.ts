/**
 * The ptp plugin (plugins/main/ptp): a veth pair without a bridge. The host end
 * gets the IPAM gateway as a /32 and a route to the pod's address; in the
 * sandbox the plugin replaces the subnet's connected route by
 * `<gw>/32 dev eth0 scope link` plus routes via the gateway. podwire derives
 * connected routes from addresses, so the pod's address is given as a /32
 * (same forwarding) while the result keeps IPAM's prefix.
 */
import { cidrNetwork, formatIpv4, hexIp, parseCidr } from '../ipv4.js';
import type { Fields } from './fields.js';
import { type HostLocalConf, hostLocalAdd, hostLocalDel } from './host-local.js';
import { parseIpam } from './ipam.js';
import { setupIpMasq, teardownIpMasq } from './ipmasq.js';
import { type PluginCall, vethName } from './plugin.js';
import { emptyResult, type CniResult } from './result.js';

export interface PtpConf {
  type: 'ptp';
  ipMasq: boolean;
  mtu: number;
  ipam: HostLocalConf;
}

export function parsePtp(f: Fields): PtpConf {
  const conf: PtpConf = { type: 'ptp', ipMasq: f.bool('ipMasq') ?? false, mtu: f.int('mtu', 68, 65535) ?? 1500, ipam: parseIpam(f) };
  f.done();
  return conf;
}

function owner(call: PluginCall): string {
  return `${call.att.containerId} ${call.att.ifName}`;
}

export function ptpAdd(conf: PtpConf, call: PluginCall): CniResult {
  const ipam = hostLocalAdd(conf.ipam, call.host.hostLocal.store(call.network), owner(call));
  const ip = ipam.ips[0]!;
  const addr = parseCidr(ip.address)!;
  const gw = ip.gateway!;
  const podIp = formatIpv4(addr.base);
  const host = { name: vethName(call.att), mac: `0e:58:${hexIp(addr.base)}`, mtu: conf.mtu, addresses: [`${gw}/32`], hairpin: false };
  const pod = { name: call.att.ifName, mac: `0a:58:${hexIp(addr.base)}`, mtu: conf.mtu, addresses: [`${podIp}/32`], hairpin: false };

  const r = emptyResult(call.cniVersion);
  r.interfaces.push({ name: host.name, mac: host.mac }, { name: pod.name, mac: pod.mac, sandbox: call.att.netns });
  r.ips.push({ ...ip, interface: 1 });
  r.routes.push(...ipam.routes);
  r.dns = { ...ipam.dns };

  call.wiring.hostVeth = host;
  call.wiring.podIf = pod;
  call.wiring.podRoutes.push(
    { dst: `${gw}/32`, dev: pod.name },
    { dst: `${formatIpv4(cidrNetwork(addr))}/${addr.len}`, via: gw, dev: pod.name, src: podIp },
  );
  for (const x of r.routes) call.wiring.podRoutes.push({ dst: x.dst, via: x.gw ?? gw, dev: pod.name });
  call.wiring.hostRoutes.push({ dst: `${podIp}/32`, dev: host.name });
  if (conf.ipMasq) setupIpMasq(call.host.nat, ip.address, call.network, call.att.containerId);
  return r;
}

export function ptpDel(conf: PtpConf, call: PluginCall): void {
  const freed = hostLocalDel(call.host.hostLocal.store(call.network), owner(call));
  if (conf.ipMasq) {
    const ips = call.prevResult?.ips.map((i) => i.address) ?? freed.map((a) => `${formatIpv4(a)}/32`);
    for (const a of ips) teardownIpMasq(call.host.nat, a, call.network, call.att.containerId);
  }
}
