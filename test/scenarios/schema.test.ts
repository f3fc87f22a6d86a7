import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseDuration } from '../../engine/time.js';
import { BANDWIDTH_PATTERN, parseBandwidth } from '../../scenarios/bandwidth.js';
import { listScenarios } from '../../scenarios/library.js';
import { parseScenario } from '../../scenarios/loader.js';
import { PATTERN_MESSAGES, schemaPath, scenarioValidator } from '../../scenarios/schema-check.js';

type Json = Record<string, unknown>;
const schema = JSON.parse(readFileSync(schemaPath(), 'utf8')) as Json;
const defs = schema.$defs as Record<string, Json>;

/** Every (location, subschema) pair of the schema. */
function walk(node: unknown, at: string, visit: (s: Json, at: string) => void): void {
  if (typeof node !== 'object' || node === null) return;
  const s = node as Json;
  visit(s, at);
  for (const [k, v] of Object.entries((s.properties as Json | undefined) ?? {})) walk(v, `${at}/properties/${k}`, visit);
  for (const [k, v] of Object.entries((s.$defs as Json | undefined) ?? {})) walk(v, `${at}/$defs/${k}`, visit);
  if (s.items) walk(s.items, `${at}/items`, visit);
}

describe('scenario.schema.json', () => {
  it('is a valid draft 2020-12 schema that ajv compiles', () => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe('urn:podwire:scenario:v1');
    expect(typeof scenarioValidator()).toBe('function');
  });

  it('titles and describes every field, so editors can document them', () => {
    const missing: string[] = [];
    walk(schema, '#', (s, at) => {
      if (typeof s.title !== 'string' || typeof s.description !== 'string') missing.push(at);
    });
    // `items` of a list that points at a $def is documented by the $def.
    expect(missing.filter((at) => !at.endsWith('/items'))).toEqual([]);
  });

  it('has a project message for every pattern', () => {
    const owners: string[] = [];
    walk(schema, '#', (s, at) => {
      if (typeof s.pattern === 'string') owners.push(at.split('/').pop()!);
    });
    expect(owners.length).toBeGreaterThan(8);
    for (const owner of owners) expect(PATTERN_MESSAGES, owner).toHaveProperty(owner);
  });

  it('accepts every library scenario as written', () => {
    const validate = scenarioValidator();
    for (const entry of listScenarios()) {
      const text = readFileSync(entry.path, 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../scenario.schema.json');
      expect(validate(YAML.parse(text)), `${entry.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('documents the same defaults the loader applies', () => {
    const top = schema.properties as Record<string, Json>;
    const underlay = (top.underlay!.properties as Record<string, Json>);
    const ping = defs.ping!.properties as Record<string, Json>;
    const udp = defs.udp!.properties as Record<string, Json>;
    const s = parseScenario(
      'name: d\nnodes: [{ name: n1, pods: [{ name: a }, { name: b }] }]\ntraffic:\n' +
        '  - ping: { from: n1/a, to: n1/b }\n  - udp: { from: n1/a, to: n1/b }\n  - pingAll: { pattern: ring }\n',
      'd.yaml',
    );
    expect(s.seed).toBe(top.seed!.default);
    expect(s.durationNs).toBe(parseDuration(top.duration!.default as string));
    expect(s.runtime).toBe(top.runtime!.default);
    expect(s.vethDelayNs).toBe(parseDuration(top.vethDelay!.default as number));
    expect(s.mtu).toBe(top.mtu!.default);
    expect(s.clusterCIDR).toBe(top.clusterCIDR!.default);
    expect(s.routing).toBe(top.routing!.default);
    expect(s.capture).toBe(top.capture!.default);
    expect(s.underlay.cidr).toBe(underlay.cidr!.default);
    expect(s.underlay.bandwidthBps).toBe(parseBandwidth(underlay.bandwidth!.default as string));
    expect(s.underlay.delayNs).toBe(parseDuration(underlay.delay!.default as string));
    expect(s.underlay.loss).toBe(underlay.loss!.default);
    expect(s.underlay.txQueueLen).toBe(underlay.txqueuelen!.default);
    const [p, u, all] = s.traffic;
    if (p?.kind !== 'ping' || u?.kind !== 'udp' || all?.kind !== 'pingAll') throw new Error('unexpected kinds');
    expect(p.count).toBe(ping.count!.default);
    expect(p.intervalNs).toBe(parseDuration(ping.interval!.default as string));
    expect(p.size).toBe(ping.size!.default);
    expect(p.startNs).toBe(parseDuration(ping.start!.default as number));
    expect(p.timeoutNs).toBe(parseDuration(ping.timeout!.default as string));
    for (const k of ['port', 'sourcePort', 'count', 'rate', 'arrivals', 'requestSize', 'responseSize'] as const) {
      expect(u[k], k).toBe(udp[k]!.default);
    }
    expect(u.timeoutNs).toBe(parseDuration(udp.timeout!.default as string));
    expect(all.stagger).toBe((defs.pingAll!.properties as Record<string, Json>).stagger!.default);
    const scaled = parseScenario('name: s\nscale: { nodes: 2 }\n', 's.yaml');
    expect(scaled.scale!.podsPerNode).toBe((top.scale!.properties as Record<string, Json>).podsPerNode!.default);
  });

  it('agrees with the parsers on what a duration and a bandwidth look like', () => {
    const durationRe = new RegExp(defs.duration!.pattern as string, 'u');
    for (const ok of ['2s', '200ms', '50us', '1.5ms', '100ns', '100', ' 3 s ', '2m', '7µs']) {
      expect(durationRe.test(ok), ok).toBe(true);
      expect(() => parseDuration(ok)).not.toThrow();
    }
    for (const bad of ['2 sec', '-1s', '1e3ns', 's', '1.s', '2h']) {
      expect(durationRe.test(bad), bad).toBe(false);
      expect(() => parseDuration(bad)).toThrow();
    }
    const bandwidthRe = new RegExp(defs.bandwidth!.pattern as string, 'u');
    for (const sample of ['10Gbit', '1Gbps', '100mbit', '2.5 Mbit', '1000', '10 Gig', 'Gbit', '1.5xbit', '-1bit', '3 kbps ']) {
      expect(bandwidthRe.test(sample), sample).toBe(BANDWIDTH_PATTERN.test(sample));
    }
    expect(parseBandwidth('10Gbit')).toBe(10e9);
    expect(parseBandwidth('1Gbps')).toBe(1e9);
    expect(parseBandwidth('500kbit')).toBe(500e3);
    expect(parseBandwidth('2.5 Mbit')).toBe(2.5e6);
    expect(parseBandwidth(1234)).toBe(1234);
    expect(() => parseBandwidth('10 Gig')).toThrow();
  });
});
