/**
 * kube-proxy's per-service and per-endpoint chain names
 * (pkg/proxy/iptables/proxier.go, v1.30): iptables chain names are at most 28
 * characters, so a service port is named by the first 16 characters of
 * base32(sha256(servicePortName + protocol)) behind a 9-character prefix, and
 * an endpoint by the same hash with its "ip:port" appended to the input.
 */
import { createHash } from 'node:crypto';

export const SVC_CHAIN_PREFIX = 'KUBE-SVC-';
export const SVL_CHAIN_PREFIX = 'KUBE-SVL-';
export const FW_CHAIN_PREFIX = 'KUBE-FW-';
export const EXT_CHAIN_PREFIX = 'KUBE-EXT-';
export const SEP_CHAIN_PREFIX = 'KUBE-SEP-';

/** RFC 4648 section 6 alphabet, as Go's base32.StdEncoding. */
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** base32.StdEncoding.EncodeToString without the '=' padding (callers keep a prefix of it). */
export function base32Std(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

const MEMO_MAX = 1 << 20;

/**
 * `f`, remembering its results: every node's kube-proxy names the same
 * Services, and a SHA-256 per name per node was a quarter of expanding 10
 * nodes with 10,000 Services. Emptied when full, so a long-lived process (a
 * sweep's worker) stays bounded.
 */
export function memoized(f: (text: string) => string): (text: string) => string {
  const seen = new Map<string, string>();
  return (text) => {
    let v = seen.get(text);
    if (v === undefined) {
      v = f(text);
      if (seen.size >= MEMO_MAX) seen.clear();
      seen.set(text, v);
    }
    return v;
  };
}

// 10 bytes are exactly 16 base32 characters: no need to encode the rest.
const hash16 = memoized((text) => base32Std(createHash('sha256').update(text).digest().subarray(0, 10)));

/**
 * portProtoHash: `servicePortName` is ServicePortName.String() ("ns/name:port",
 * or "ns/name" for an unnamed port), `protocol` lower case ("tcp").
 */
export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol);
}

/** servicePortEndpointChainName: `endpoint` is "ip:port". */
export function servicePortEndpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return SEP_CHAIN_PREFIX + hash16(servicePortName + protocol + endpoint);
}

/** KUBE-SVC-: the service's Cluster-policy endpoint chain. */
export function servicePortPolicyClusterChain(servicePortName: string, protocol: string): string {
  return SVC_CHAIN_PREFIX + portProtoHash(servicePortName, protocol);
}

/** KUBE-SVL-: the Local-policy endpoint chain. */
export function servicePortPolicyLocalChainName(servicePortName: string, protocol: string): string {
  return SVL_CHAIN_PREFIX + portProtoHash(servicePortName, protocol);
}

/** KUBE-FW-: the loadBalancerSourceRanges chain. */
export function serviceFirewallChainName(servicePortName: string, protocol: string): string {
  return FW_CHAIN_PREFIX + portProtoHash(servicePortName, protocol);
}

/** KUBE-EXT-: external (NodePort, LoadBalancer, ExternalIP) traffic. */
export function serviceExternalChainName(servicePortName: string, protocol: string): string {
  return EXT_CHAIN_PREFIX + portProtoHash(servicePortName, protocol);
}
