/**
 * The scenario's explicit `servers`: each resolved to its namespace, one per
 * (protocol, namespace, port). Services add theirs after (scenarios/services.ts).
 */
import type { EndpointIndex } from './endpoints.js';
import type { Problems } from './problems.js';
import type { RawScenario } from './raw-scenario.js';
import type { ServerConfig } from './scenario.js';

export function normalizeServers(problems: Problems, rawServers: RawScenario['servers'], index: EndpointIndex): ServerConfig[] {
  const out: ServerConfig[] = [];
  const seen = new Map<string, number>();
  (rawServers ?? []).forEach((raw, i) => {
    const ref = index.source(raw.on);
    if (typeof ref === 'string') {
      problems.fail(['servers', i, 'on'], ref);
      return;
    }
    const protocol = raw.protocol ?? 'udp';
    const key = `${protocol}:${ref.ns}:${raw.port}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      problems.fail(['servers', i, 'port'], `${raw.port} in ${ref.ns} is already served by servers[${prev}]`);
      return;
    }
    seen.set(key, i);
    if (protocol === 'udp' && raw.requestSize !== undefined) {
      problems.fail(['servers', i, 'requestSize'], 'applies to tcp servers only (a UDP request is one datagram)');
    }
    out.push({
      ns: ref.ns,
      port: raw.port,
      responseSize: raw.responseSize ?? 64,
      ...(protocol === 'tcp' ? { protocol, requestSize: raw.requestSize ?? 64 } : {}),
    });
  });
  return out;
}
