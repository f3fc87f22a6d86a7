/**
 * The bridge plugin (plugins/main/bridge): a Linux bridge (default cni0) on
 * the node, a veth pair with the host end as a bridge port (hairpin with
 * hairpinMode) and the other end as CNI_IFNAME in the sandbox, addresses from
 * IPAM. isGateway puts the gateway address on the bridge; isDefaultGateway
 * (which implies it) adds a default route via it; ipMasq writes
 * ip.SetupIPMasq's chain. MACs follow the plugin's old hwaddr scheme (0a:58 +
 * the IP) so that they are deterministic.
 */
import { formatIpv4, hexIp, parseCidr, parseIpv4 } from '../ipv4.js';
import type { Fields } from './fields.js';
import { type HostLocalConf, hostLocalAdd, hostLocalDel } from './host-local.js';
import { parseIpam } from './ipam.js';
import { setupIpMasq, teardownIpMasq } from './ipmasq.js';
import { CNI_ERR, CniError, type PluginCall, vethName } from './plugin.js';
import { emptyResult, type CniResult } from './result.js';

export interface BridgeConf {
  type: 'bridge';
  bridge: string;
  isGateway: boolean;
  isDefaultGateway: boolean;
  ipMasq: boolean;
  hairpinMode: boolean;
  mtu: number;
  ipam: HostLocalConf;
}

/** Linux IFNAMSIZ - 1. */
const MAX_IFNAME = 15;

export function parseBridge(f: Fields): BridgeConf {
  const bridge = f.str('bridge') ?? 'cni0';
  if (bridge.length > MAX_IFNAME || !/^[A-Za-z0-9_.-]+$/.test(bridge)) f.fail('bridge', `"${bridge}" is not a valid interface name`);
  if (bridge === 'eth0' || bridge === 'lo') f.fail('bridge', `"${bridge}" is already an interface of every node`);
  const isDefaultGateway = f.bool('isDefaultGateway') ?? false;
  const conf: BridgeConf = {
    type: 'bridge',
    bridge,
    // bridge.go: isDefaultGateway implies isGateway.
    isGateway: (f.bool('isGateway') ?? false) || isDefaultGateway,
    isDefaultGateway,
    ipMasq: f.bool('ipMasq') ?? false,
    hairpinMode: f.bool('hairpinMode') ?? false,
    mtu: f.int('mtu', 68, 65535) ?? 1500,
    ipam: parseIpam(f),
  };
  f.done();
  return conf;
}

function owner(call: PluginCall): string {
  return `${call.att.containerId} ${call.att.ifName}`;
}

export function bridgeAdd(conf: BridgeConf, call: PluginCall): CniResult {
  const ipam = hostLocalAdd(conf.ipam, call.host.hostLocal.store(call.network), owner(call));
  // The first address names the veth MACs and gives the default route's gateway.
  const first = parseCidr(ipam.ips[0]!.address)!;
  const gw = ipam.ips[0]!.gateway!;
  let br = call.host.bridges.get(conf.bridge);
  if (br === undefined) {
    br = { name: conf.bridge, mac: `0a:58:${hexIp(parseIpv4(gw)!)}`, mtu: conf.mtu, addresses: [] };
    call.host.bridges.set(conf.bridge, br);
  } else if (br.mtu !== conf.mtu) {
    throw new CniError(CNI_ERR.internal, `bridge ${conf.bridge} has mtu ${br.mtu}, the configuration asks for ${conf.mtu}`);
  }
  if (conf.isGateway) {
    for (const ip of ipam.ips) {
      const gwAddr = `${ip.gateway!}/${parseCidr(ip.address)!.len}`;
      if (!br.addresses.includes(gwAddr)) br.addresses.push(gwAddr);
    }
  }
  const host = { name: vethName(call.att), mac: `0e:58:${hexIp(first.base)}`, mtu: conf.mtu, addresses: [], master: conf.bridge, hairpin: conf.hairpinMode };
  const pod = { name: call.att.ifName, mac: `0a:58:${hexIp(first.base)}`, mtu: conf.mtu, addresses: ipam.ips.map((x) => x.address), hairpin: false };

  const r = emptyResult(call.cniVersion);
  r.interfaces.push({ name: br.name, mac: br.mac }, { name: host.name, mac: host.mac }, { name: pod.name, mac: pod.mac, sandbox: call.att.netns });
  for (const ip of ipam.ips) r.ips.push({ ...ip, interface: 2 });
  r.routes.push(...ipam.routes);
  if (conf.isDefaultGateway) {
    const other = r.routes.find((x) => x.dst === '0.0.0.0/0');
    if (other !== undefined && other.gw !== undefined && other.gw !== gw) {
      throw new CniError(CNI_ERR.internal, `isDefaultGateway ineffective because IPAM sets default route via "${other.gw}"`);
    }
    if (other === undefined) r.routes.push({ dst: '0.0.0.0/0', gw });
  }
  r.dns = { ...ipam.dns };

  call.wiring.hostVeth = host;
  call.wiring.podIf = pod;
  // ipam.ConfigureIface: a route without gw goes via the address family's gateway.
  for (const x of r.routes) call.wiring.podRoutes.push({ dst: x.dst, via: x.gw ?? gw, dev: pod.name });
  if (conf.ipMasq) for (const ip of ipam.ips) setupIpMasq(call.host.nat, ip.address, call.network, call.att.containerId);
  return r;
}

export function bridgeDel(conf: BridgeConf, call: PluginCall): void {
  const freed = hostLocalDel(call.host.hostLocal.store(call.network), owner(call));
  if (conf.ipMasq) {
    const ips = call.prevResult?.ips.map((i) => i.address) ?? freed.map((a) => `${formatIpv4(a)}/32`);
    for (const a of ips) teardownIpMasq(call.host.nat, a, call.network, call.att.containerId);
  }
}
