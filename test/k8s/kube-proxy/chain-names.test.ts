/**
 * Chain-name hashing against RFC 4648's base32 vectors and against chain names
 * that appear in kube-proxy's own expected rulesets (proxier_test.go).
 */
import { describe, expect, it } from 'vitest';
import {
  base32Std,
  memoized,
  portProtoHash,
  serviceExternalChainName,
  serviceFirewallChainName,
  servicePortEndpointChainName,
  servicePortNameString,
  servicePortPolicyClusterChain,
  servicePortPolicyLocalChainName,
} from '../../../models/k8s/kube-proxy/index.js';

describe('base32Std (RFC 4648 section 10 vectors, padding dropped)', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [input, encoded] of vectors) {
    it(JSON.stringify(input), () => expect(base32Std(new TextEncoder().encode(input))).toBe(encoded));
  }
});

describe('chain names seen in proxier_test.go', () => {
  it('KUBE-SVC/SVL/EXT/FW share the port hash', () => {
    expect(servicePortPolicyClusterChain('ns1/svc1:p80', 'tcp')).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(servicePortPolicyLocalChainName('ns2/svc2:p80', 'tcp')).toBe('KUBE-SVL-GNZBNJ2PO5MGZ6GT');
    expect(serviceExternalChainName('ns2/svc2:p80', 'tcp')).toBe('KUBE-EXT-GNZBNJ2PO5MGZ6GT');
    expect(serviceFirewallChainName('ns5/svc5:p80', 'tcp')).toBe('KUBE-FW-NUKIZ6OKUXPJNT4C');
    expect(servicePortPolicyClusterChain('ns2/svc2:p8080', 'tcp')).toBe('KUBE-SVC-2VJB64SDSIJUP5T6');
    expect(servicePortPolicyClusterChain('ns4/svc4:p8082', 'tcp')).toBe('KUBE-SVC-EBDQOQU5SJFXRIL3');
  });

  it('KUBE-SEP hashes the endpoint "ip:port" too', () => {
    expect(servicePortEndpointChainName('ns1/svc1:p80', 'tcp', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
    expect(servicePortEndpointChainName('ns5/svc5:p80', 'tcp', '10.180.0.3:80')).toBe('KUBE-SEP-I77PXRDZVX7PMWMN');
    // the same endpoint behind another service gets another chain
    expect(servicePortEndpointChainName('ns3/svc3:p80', 'tcp', '10.180.0.3:80')).toBe('KUBE-SEP-OYPFS5VJICHGATKP');
    expect(servicePortEndpointChainName('ns1/svc1:p80', 'tcp', '10.0.0.0:80')).toBe('KUBE-SEP-DKGQUZGBKLTPAR56');
  });

  it('the protocol is part of the hash', () => {
    expect(portProtoHash('ns2/svc2:dns', 'udp')).not.toBe(portProtoHash('ns2/svc2:dns', 'tcp'));
  });

  it('names fit iptables\' 28-character limit', () => {
    for (const name of [servicePortPolicyClusterChain('a/b:c', 'sctp'), servicePortEndpointChainName('a/b:c', 'udp', '10.0.0.1:53')]) {
      expect(name.length).toBeLessThanOrEqual(28);
      expect(name).toMatch(/^KUBE-(SVC|SEP)-[A-Z2-7]{16}$/);
    }
  });

  it('ServicePortName.String() omits the colon for an unnamed port', () => {
    expect(servicePortNameString('ns1', 'svc1', 'p80')).toBe('ns1/svc1:p80');
    expect(servicePortNameString('ns1', 'svc1', '')).toBe('ns1/svc1');
  });
});

describe('memoized (each name hashed once per process)', () => {
  it('gives what the function gives, calling it once per distinct input', () => {
    const calls: string[] = [];
    const upper = memoized((s) => {
      calls.push(s);
      return s.toUpperCase();
    });
    expect(['a', 'b', 'a', 'a', 'b'].map(upper)).toEqual(['A', 'B', 'A', 'A', 'B']);
    expect(calls).toEqual(['a', 'b']);
  });

  it('a chain name is the same on every call', () => {
    const first = servicePortPolicyClusterChain('ns1/svc1:p80', 'tcp');
    expect(servicePortPolicyClusterChain('ns1/svc1:p80', 'tcp')).toBe(first);
    expect(first).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
  });
});
