/**
 * ip.SetupIPMasq / TeardownIPMasq (containernetworking/plugins pkg/ip, the
 * iptables flavour) as the bridge and ptp plugins call them with `ipMasq`:
 * a chain CNI-<hash of network+container id> that ACCEPTs the pod's own
 * network and MASQUERADEs the rest except multicast, entered from POSTROUTING
 * for the pod's address. iptables-save prints `-d 10.244.1.2/24` as the
 * network, and the options in its own order (-s/-d, matches, then -j).
 */
import { cidrNetwork, formatIpv4, parseCidr } from '../ipv4.js';
import { chainName, type NatTable, quoteArg, ruleComment } from './nat-table.js';

function rules(address: string, network: string, containerId: string): { chain: string; own: string[]; entry: string } {
  const c = parseCidr(address)!;
  const chain = chainName(network, containerId);
  const comment = `-m comment --comment ${quoteArg(ruleComment(network, containerId))}`;
  const net = `${formatIpv4(cidrNetwork(c))}/${c.len}`;
  return {
    chain,
    own: [`-d ${net} ${comment} -j ACCEPT`, `! -d 224.0.0.0/4 ${comment} -j MASQUERADE`],
    entry: `-s ${formatIpv4(c.base)}/32 ${comment} -j ${chain}`,
  };
}

export function setupIpMasq(nat: NatTable, address: string, network: string, containerId: string): void {
  const r = rules(address, network, containerId);
  for (const rule of r.own) nat.appendUnique(r.chain, rule);
  nat.appendUnique('POSTROUTING', r.entry);
}

export function teardownIpMasq(nat: NatTable, address: string, network: string, containerId: string): void {
  const r = rules(address, network, containerId);
  nat.deleteRule('POSTROUTING', r.entry);
  nat.deleteChain(r.chain);
}
