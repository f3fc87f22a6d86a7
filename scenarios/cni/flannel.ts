/**
 * The flannel CNI plugin (flannel-io/cni-plugin): reads flanneld's subnet.env
 * (here given inline as `subnetEnv`, podwire reading no files at run time)
 * and delegates to bridge with, unless the delegate says otherwise,
 * isGateway, ipMasq = !FLANNEL_IPMASQ, mtu = FLANNEL_MTU and host-local over
 * FLANNEL_SUBNET with a route to FLANNEL_NETWORK.
 */
import { cidrNetwork, formatCidr, formatIpv4 } from '../ipv4.js';
import { type BridgeConf, bridgeAdd, bridgeDel, parseBridge } from './bridge.js';
import { Fields } from './fields.js';
import type { PluginCall } from './plugin.js';
import type { CniResult } from './result.js';

export interface FlannelConf {
  type: 'flannel';
  delegate: BridgeConf;
}

export function parseFlannel(f: Fields): FlannelConf {
  f.allow('dataDir');
  if (f.has('subnetFile')) f.fail('subnetFile', 'podwire reads no subnet.env at run time; give its variables as subnetEnv');
  const env = f.object('subnetEnv');
  if (env === undefined) f.fail('subnetEnv', 'is required ({FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ})');
  const network = env.cidr('FLANNEL_NETWORK') ?? env.fail('FLANNEL_NETWORK', 'is required');
  const subnet = env.cidr('FLANNEL_SUBNET') ?? env.fail('FLANNEL_SUBNET', 'is required');
  const mtu = env.int('FLANNEL_MTU', 68, 65535) ?? 1500;
  const ipmasq = env.bool('FLANNEL_IPMASQ') ?? false;
  env.done();
  const d = f.object('delegate');
  const given = d?.obj ?? {};
  if (given.type !== undefined && given.type !== 'bridge') d!.fail('type', `podwire delegates only to bridge, not ${JSON.stringify(given.type)}`);
  if (given.ipam !== undefined) d!.fail('ipam', 'flannel builds the delegate IPAM from subnetEnv');
  // subnet.env holds 10.244.1.1/24; the plugin parses it with net.ParseCIDR, which keeps the network.
  const sn = `${formatIpv4(cidrNetwork(subnet))}/${subnet.len}`;
  const delegate: Record<string, unknown> = {
    ...given,
    ipMasq: given.ipMasq ?? !ipmasq,
    mtu: given.mtu ?? mtu,
    isGateway: given.isGateway ?? true,
    ipam: { type: 'host-local', ranges: [[{ subnet: sn }]], routes: [{ dst: formatCidr(network) }] },
  };
  delete delegate.type;
  delete delegate.name;
  delete delegate.cniVersion;
  const conf = parseBridge(new Fields(delegate, f.file, f.at('delegate')));
  f.done();
  return { type: 'flannel', delegate: conf };
}

export function flannelAdd(conf: FlannelConf, call: PluginCall): CniResult {
  return bridgeAdd(conf.delegate, call);
}

export function flannelDel(conf: FlannelConf, call: PluginCall): void {
  bridgeDel(conf.delegate, call);
}
