/**
 * kube-proxy's IPVS mode in the kernel namespaces: the spec's ip sets
 * (`ipset create` / `ipset add`, before the iptables rules that match them),
 * the dummy device with the virtual addresses (left down, as kube-proxy does
 * and podwire models), the virtual servers (`ipvsadm -A` / `-a ... -m`) and
 * `net.ipv4.vs.conntrack=1`; and `ipvsadm -Ln` / `-Lnc` after the
 * traffic. IPVS tables and ip sets are per network namespace: every command
 * runs through `ip netns exec` in the run's own namespaces.
 */
import type { NamespaceSpec, TopologySpec } from '../../scenarios/topology.js';
import { inNetns, run, runSync } from './commands.js';
import { kernelPrerequisites, type Prerequisites } from './kernel-harness.js';
import { RUN_PREFIX, type KernelTopology } from './netns-topology.js';

/** Namespaces of the spec that have ip sets or IPVS. */
export function namespacesWithIpvs(spec: TopologySpec): string[] {
  return spec.namespaces.filter((ns) => ns.ipvs !== undefined).map((ns) => ns.name);
}

export function usesIpsets(spec: TopologySpec): boolean {
  return spec.namespaces.some((ns) => (ns.ipsets ?? []).length > 0);
}

/** `ipset create` for every set, then `ipset add` for its entries (before iptables-restore: -m set needs the sets). */
export async function loadIpsets(topo: KernelTopology): Promise<void> {
  for (const ns of topo.spec.namespaces) {
    const netns = topo.netns(ns.name);
    for (const set of ns.ipsets ?? []) {
      const create = ['ipset', 'create', set.name, set.type];
      // bitmap:port needs its range; kube-proxy's sets span every port.
      if (set.type === 'bitmap:port') create.push('range', '0-65535');
      await inNs(ns, `ipset create ${set.name}`, () => run('ip', inNetns(netns, create)));
      for (const entry of set.entries ?? []) {
        await inNs(ns, `ipset add ${set.name} ${entry}`, () => run('ip', inNetns(netns, ['ipset', 'add', set.name, entry])));
      }
    }
  }
}

/** The dummy device with its addresses (down), the virtual servers with their real servers (masquerading), and IPVS conntrack on. */
export async function loadIpvs(topo: KernelTopology): Promise<void> {
  for (const ns of topo.spec.namespaces) {
    if (ns.ipvs === undefined) continue;
    const netns = topo.netns(ns.name);
    const { device, addresses, services } = ns.ipvs;
    await inNs(ns, `ip link add ${device} type dummy`, () => run('ip', ['-n', netns, 'link', 'add', device, 'type', 'dummy']));
    for (const a of addresses) await inNs(ns, `ip addr add ${a} dev ${device}`, () => run('ip', ['-n', netns, 'addr', 'add', a, 'dev', device]));
    for (const s of services) {
      const proto = s.protocol === 'TCP' ? '-t' : '-u';
      const vip = `${s.address}:${s.port}`;
      const add = ['ipvsadm', '-A', proto, vip, '-s', s.scheduler];
      if (s.persistenceTimeout !== undefined) add.push('-p', String(s.persistenceTimeout));
      await inNs(ns, add.join(' '), () => run('ip', inNetns(netns, add)));
      for (const r of s.realServers) {
        const dest = ['ipvsadm', '-a', proto, vip, '-r', `${r.address}:${r.port}`, '-m', '-w', String(r.weight)];
        await inNs(ns, dest.join(' '), () => run('ip', inNetns(netns, dest)));
      }
    }
    await inNs(ns, 'sysctl net.ipv4.vs.conntrack=1', () => run('ip', inNetns(netns, ['sysctl', '-q', '-w', 'net.ipv4.vs.conntrack=1'])));
  }
}

/** `ipvsadm -Ln` and `ipvsadm -Lnc` of every namespace with IPVS, keyed by spec namespace. */
export async function dumpIpvs(topo: KernelTopology): Promise<Map<string, { list: string; connections: string }>> {
  const out = new Map<string, { list: string; connections: string }>();
  for (const ns of namespacesWithIpvs(topo.spec)) {
    const netns = topo.netns(ns);
    out.set(ns, {
      list: await run('ip', inNetns(netns, ['ipvsadm', '-Ln'])),
      connections: await run('ip', inNetns(netns, ['ipvsadm', '-Lnc'])),
    });
  }
  return out;
}

async function inNs<T>(ns: NamespaceSpec, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${ns.name}: ${what} failed: ${(err as Error).message}`);
  }
}

let cached: Prerequisites | undefined;

/**
 * kernelPrerequisites plus ipset, ipvsadm and IPVS in this kernel, tried in a
 * probe namespace: an ip set, a dummy device, a UDP virtual server with a
 * masquerading real server, and net.ipv4.vs.conntrack. Computed once.
 */
export function ipvsPrerequisites(): Prerequisites {
  cached ??= (() => {
    const base = kernelPrerequisites();
    if (!base.ok) return base;
    // Only whether they are installed: both talk to the kernel even for --version (ipvsadm fails without IPVS), and the root namespace is not to be touched.
    for (const tool of ['ipset', 'ipvsadm']) {
      if (!runSync('sh', ['-c', `command -v ${tool}`]).ok) return { ok: false, reason: `"${tool}" is missing (install ${tool})` };
    }
    const probe = `${RUN_PREFIX}ipvsprobe`;
    const add = runSync('ip', ['netns', 'add', probe]);
    if (!add.ok) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
    try {
      const x = (...argv: string[]) => runSync('ip', ['netns', 'exec', probe, ...argv]);
      const set = x('ipset', 'create', 'PROBE', 'hash:ip,port');
      if (!set.ok) return { ok: false, reason: `ipset cannot create a hash:ip,port set in a namespace (ip_set): ${set.stderr.trim()}` };
      // Both checked before returning, so that the reason names everything this kernel lacks.
      const missing: string[] = [];
      let dummy = runSync('ip', ['-n', probe, 'link', 'add', 'kube-ipvs0', 'type', 'dummy']);
      if (!dummy.ok && runSync('modprobe', ['dummy']).ok) dummy = runSync('ip', ['-n', probe, 'link', 'add', 'kube-ipvs0', 'type', 'dummy']);
      if (!dummy.ok) missing.push(`dummy devices (ip link add ... type dummy: ${dummy.stderr.trim()}; CONFIG_DUMMY / modprobe dummy)`);
      let svc = x('ipvsadm', '-A', '-u', '10.96.0.2:80', '-s', 'rr');
      // IPVS may be a module that is not loaded yet (then the per-namespace table does not exist).
      if (!svc.ok && runSync('modprobe', ['ip_vs']).ok) svc = x('ipvsadm', '-A', '-u', '10.96.0.2:80', '-s', 'rr');
      if (!svc.ok) missing.push(`IPVS (ipvsadm -A in a namespace: ${svc.stderr.trim().replace(/\s+/g, ' ')}; CONFIG_IP_VS / modprobe ip_vs)`);
      if (missing.length > 0) return { ok: false, reason: `this kernel lacks ${missing.join(' and ')}` };
      const dest = x('ipvsadm', '-a', '-u', '10.96.0.2:80', '-r', '10.0.0.1:8080', '-m');
      if (!dest.ok) return { ok: false, reason: `ipvsadm -a ... -m fails in a namespace: ${dest.stderr.trim()}` };
      const ct = x('sysctl', '-q', '-w', 'net.ipv4.vs.conntrack=1');
      if (!ct.ok) return { ok: false, reason: `no net.ipv4.vs.conntrack in a namespace: ${ct.stderr.trim()}` };
    } finally {
      runSync('ip', ['netns', 'del', probe]);
    }
    return { ok: true, reason: `${base.reason}; ipset, ipvsadm, IPVS` };
  })();
  return cached;
}
