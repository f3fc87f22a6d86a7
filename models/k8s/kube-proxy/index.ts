/**
 * models/k8s/kube-proxy: the ruleset kube-proxy's iptables mode (Kubernetes
 * v1.30) writes for a set of Services and their endpoints. Start at
 * iptables.ts; service.ts holds the input types, chain-names.ts the hashed
 * chain names, probability.ts the statistic-match values, sort-rules.ts the
 * canonical order kube-proxy's tests compare in, generate.ts synthetic clusters.
 */
export * from './service.js';
export {
  kubeProxyIptables,
  kubeProxyBaseRules,
  masqueradeMarkString,
  LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
  KUBE_SERVICES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_MARK_MASQ,
  KUBE_FORWARD,
  KUBE_PROXY_FIREWALL,
  KUBE_FIREWALL,
} from './iptables.js';
export {
  portProtoHash,
  servicePortEndpointChainName,
  servicePortPolicyClusterChain,
  servicePortPolicyLocalChainName,
  serviceFirewallChainName,
  serviceExternalChainName,
  base32Std,
  memoized,
} from './chain-names.js';
export { computeProbability, formatFixed10 } from './probability.js';
export { sortKubeProxyRules, parseRestoreText, ruleComment } from './sort-rules.js';
export { syntheticServices, syntheticNodeName, syntheticNodeIP, type SyntheticOptions, SERVICE_CIDR } from './generate.js';
export { servicePortNameString } from './service-port.js';
export { kubeProxyNftables, nftServicePortChainBase, nftEndpointChainBase, NFT_TABLE } from './nftables.js';
export { kubeProxyIpvs, KUBE_IPVS_DEVICE, type KubeProxyIpvsConfig, type KubeProxyIpvsOptions, type KubeProxyIpSet, type IpvsIpSetType } from './ipvs.js';
