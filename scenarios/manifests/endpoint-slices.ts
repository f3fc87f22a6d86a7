/**
 * EndpointSlices (discovery.k8s.io/v1) for Services without a selector: the
 * endpoints kube-proxy programs come from the slices labelled
 * kubernetes.io/service-name, whose addresses must be pods' (or nodes')
 * addresses of the scenario. Resolved once pods have their addresses, so after
 * normalizing; the implied backend servers are added as for selected pods.
 */
import type { Scenario, ServerConfig } from '../scenario.js';
import type { ServiceConfig, ServiceEndpoint } from '../services.js';
import { Fields, type ManifestIssues, type ManifestObject, isMap } from './load.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Applies the slices to `scenario` (endpoints, targetPorts, servers); problems go to `issues`. */
export function applyEndpointSlices(slices: readonly ManifestObject[], scenario: Scenario, issues: ManifestIssues): void {
  const owners = new Map<string, { node: string; pod: string }>();
  for (const node of scenario.nodes) {
    owners.set(node.address, { node: node.name, pod: '' });
    for (const pod of node.pods) owners.set(pod.ip, { node: node.name, pod: pod.name });
  }
  const byService = new Map<ServiceConfig, { endpoints: ServiceEndpoint[]; ports: Map<string, number>; first: ManifestObject }>();
  for (const obj of slices) {
    const f = new Fields(obj, issues);
    const addressType = f.string(['addressType']);
    if (addressType !== 'IPv4') {
      f.fail(['addressType'], `${JSON.stringify(addressType ?? null)} is not supported (podwire is IPv4 only)`);
      continue;
    }
    const svcName = f.labels(['metadata', 'labels'])?.[SERVICE_NAME_LABEL];
    if (svcName === undefined) {
      f.fail(['metadata', 'labels'], `needs the label ${SERVICE_NAME_LABEL} naming its Service`);
      continue;
    }
    const svc = scenario.services.find((s) => s.namespace === 'default' && s.name === svcName);
    if (svc === undefined) {
      f.fail(['metadata', 'labels', SERVICE_NAME_LABEL], `no Service "${svcName}" in the scenario`);
      continue;
    }
    if (Object.keys(svc.selector).length > 0) {
      f.fail(['metadata', 'labels', SERVICE_NAME_LABEL], `Service "${svcName}" has a selector: its endpoints are the pods it selects (give slices only to Services without one)`);
      continue;
    }
    let acc = byService.get(svc);
    if (acc === undefined) byService.set(svc, (acc = { endpoints: [], ports: new Map(), first: obj }));

    f.list(['ports']).forEach((p, j) => {
      const name = f.string(['ports', j, 'name']) ?? '';
      const port = f.int(['ports', j, 'port'], 1, 65535, 'a port number');
      const protocol = isMap(p) ? (p['protocol'] ?? 'TCP') : 'TCP';
      const svcPort = svc.ports.find((sp) => sp.name === name);
      if (svcPort === undefined) {
        f.fail(['ports', j, 'name'], `"${name}" names no port of Service "${svcName}" (ports are ${svc.ports.map((sp) => JSON.stringify(sp.name)).join(', ')})`);
        return;
      }
      if (protocol !== svcPort.protocol) f.fail(['ports', j, 'protocol'], `${JSON.stringify(protocol)} differs from the Service port's ${svcPort.protocol}`);
      if (port === undefined) return;
      const prev = acc.ports.get(name);
      if (prev !== undefined && prev !== port) f.fail(['ports', j, 'port'], `${port} differs from ${prev} in another slice of "${svcName}" (per-slice ports are not supported yet)`);
      else acc.ports.set(name, port);
    });

    f.list(['endpoints']).forEach((ep, k) => {
      const at = ['endpoints', k];
      const addresses = f.list([...at, 'addresses']);
      if (addresses.length !== 1) {
        f.fail([...at, 'addresses'], 'must hold exactly one address (kube-proxy uses the first)');
        return;
      }
      const ip = addresses[0];
      const owner = typeof ip === 'string' ? owners.get(ip) : undefined;
      if (owner === undefined) {
        f.fail([...at, 'addresses', 0], `${JSON.stringify(ip)} is no pod's or node's address in the scenario`);
        return;
      }
      for (const cond of ['ready', 'serving'] as const) {
        f.unsupported([...at, 'conditions', cond], 'every endpoint is ready and serving', (v) => v === true);
      }
      f.unsupported([...at, 'conditions', 'terminating'], 'every endpoint is ready and serving', (v) => v === false);
      const nodeName = isMap(ep) ? ep['nodeName'] : undefined;
      if (nodeName !== undefined && nodeName !== owner.node) {
        f.fail([...at, 'nodeName'], `${JSON.stringify(nodeName)}, but ${ip} is on node ${owner.node}`);
      }
      if (!acc.endpoints.some((e) => e.ip === ip)) acc.endpoints.push({ node: owner.node, pod: owner.pod, ip: ip as string });
    });
  }
  for (const [svc, acc] of byService) {
    const missing = svc.ports.filter((p) => !acc.ports.has(p.name));
    if (missing.length > 0) {
      issues.fail(acc.first, ['ports'], `no slice of "${svc.name}" gives port ${missing.map((p) => JSON.stringify(p.name)).join(', ')} of the Service (the endpoints' port for it)`);
    }
  }
  if (issues.list.length > 0) return;

  const taken = new Set(scenario.servers.map((x) => `${x.protocol ?? 'udp'}:${x.ns}:${x.port}`));
  const servers: ServerConfig[] = [];
  for (const [svc, acc] of byService) {
    for (const p of svc.ports) {
      const target = acc.ports.get(p.name)!;
      p.targetPort = target;
      for (const ep of acc.endpoints) {
        const ns = ep.pod === '' ? ep.node : `${ep.node}/${ep.pod}`;
        const protocol = p.protocol === 'TCP' ? 'tcp' : 'udp';
        const key = `${protocol}:${ns}:${target}`;
        if (taken.has(key)) continue;
        taken.add(key);
        servers.push(protocol === 'tcp' ? { ns, port: target, responseSize: p.responseSize, protocol, requestSize: p.requestSize } : { ns, port: target, responseSize: p.responseSize });
      }
    }
    svc.endpoints = acc.endpoints;
  }
  scenario.servers.push(...servers);
}
