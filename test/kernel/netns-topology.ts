/**
 * Builds a resolved podwire topology (scenarios/topology.ts, TopologySpec) for
 * real: one network namespace per spec namespace, Linux bridges, veth pairs,
 * addresses, routes and sysctls, the way `ip netns` users (and CNI plugins) do.
 *
 * Safety: every namespace is created by this module with a name that starts
 * with this process's run prefix, and every command is scoped with `ip -n NS`
 * or `ip netns exec NS`; the root namespace is never touched. Namespaces still
 * alive when the process exits are deleted by an exit hook.
 */
import { randomBytes } from 'node:crypto';
import { namespaceRoutes, type BridgeSpec, type InterfaceSpec, type NamespaceSpec, type TopologySpec } from '../../scenarios/topology.js';
import { inNetns, run, runSync, waitUntil } from './commands.js';
import { tcpSettingsOf } from '../../scenarios/tcp-settings.js';

/** Prefix of every namespace this process creates: "pwk<pid>-<random>-". */
export const RUN_PREFIX = `pwk${process.pid}-${randomBytes(2).toString('hex')}-`;

let buildCounter = 0;
const liveNamespaces = new Set<string>();

process.once('exit', () => {
  for (const ns of liveNamespaces) runSync('ip', ['netns', 'del', ns]);
});

/** Namespaces of this process (by prefix) that currently exist. */
export function listOwnNamespaces(): string[] {
  const r = runSync('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(RUN_PREFIX));
}

/** Deletes every namespace of this process that still exists; returns their names. */
export function deleteOwnNamespaces(): string[] {
  const left = listOwnNamespaces();
  for (const ns of left) {
    runSync('ip', ['netns', 'del', ns]);
    liveNamespaces.delete(ns);
  }
  return left;
}

export interface KernelInterface {
  /** Spec namespace ("n1/p1") and interface name ("eth0"). */
  ns: string;
  name: string;
  /** Kernel namespace and interface name (the latter renamed when invalid in Linux). */
  netns: string;
  ifname: string;
  isBridge: boolean;
}

export interface KernelTopology {
  readonly spec: TopologySpec;
  /** Prefix shared by this build's namespaces. */
  readonly prefix: string;
  /** Spec namespace -> kernel namespace. */
  readonly namespaces: ReadonlyMap<string, string>;
  /** Capture point "<ns>/<if>" -> kernel interface, for every bridge and interface, and `lo`. */
  readonly interfaces: ReadonlyMap<string, KernelInterface>;
  /** Capture points whose interface name had to change (longer than 15 chars, or invalid). */
  readonly renamed: ReadonlyMap<string, string>;
  netns(specNs: string): string;
  /** Resolves a capture point "<namespace>/<interface>"; throws for an unknown one. */
  resolvePoint(point: string): KernelInterface;
  /** Deletes every namespace of this build and checks none is left. Idempotent. */
  teardown(): Promise<void>;
}

/** IFNAMSIZ is 16 with the NUL: names are at most 15 bytes (net/core/dev.c, dev_valid_name). */
export function isValidIfName(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= 15 &&
    name !== '.' &&
    name !== '..' &&
    !/[/:\s]/.test(name)
  );
}

/** Splits a capture point at its last '/': namespaces contain '/', interfaces do not. */
export function splitPoint(point: string): { ns: string; ifname: string } {
  const i = point.lastIndexOf('/');
  if (i <= 0 || i === point.length - 1) throw new Error(`invalid capture point "${point}" (expected <namespace>/<interface>)`);
  return { ns: point.slice(0, i), ifname: point.slice(i + 1) };
}

/** Linux bridge ageing_time is in clock_t (USER_HZ = 100, centiseconds). */
function ageingCentiseconds(b: BridgeSpec): number {
  return Math.round(b.ageingNs / 10_000_000);
}

/**
 * IPv4 settings a new namespace would otherwise inherit from the host's init_net
 * (net.core.devconf_inherit_init_net = 0 copies conf/all and conf/default).
 * Forcing the kernel defaults keeps the run independent of how the host is set up.
 */
const IPV4_CONF_DEFAULTS: ReadonlyArray<[string, string]> = [
  ['rp_filter', '0'],
  ['send_redirects', '1'],
  ['accept_local', '0'],
  ['proxy_arp', '0'],
  ['arp_ignore', '0'],
  ['arp_announce', '0'],
  ['arp_accept', '0'],
  ['route_localnet', '0'],
];

/**
 * Per-namespace TCP sysctls at the kernel defaults podwire models (models/stack/tcp/params.ts).
 * Since Linux 5.x a new namespace copies tcp_rmem/tcp_wmem from init_net (tcp_sk_init), and a
 * host tcp_rmem[2] of 32 MiB gives window scale 10 instead of 7 (tcp_select_initial_window).
 * net.core.rmem_max also enters the window scale but is global: a host value of 8 MiB or
 * more still shows up (as a different wscale).
 * A new namespace also inherits init_net's congestion control: on a host that runs BBR
 * (this machine's default) the kernel side paced its sends while podwire ran Reno, which
 * only went unnoticed because no comparison had a flight beyond the initial window.
 */
const TCP_DEFAULTS: ReadonlyArray<[string, string]> = [
  ['net.ipv4.tcp_rmem', '4096 131072 6291456'],
  ['net.ipv4.tcp_wmem', '4096 16384 4194304'],
  ['net.ipv4.tcp_congestion_control', 'reno'],
  ['net.ipv4.tcp_timestamps', '1'],
  ['net.ipv4.tcp_sack', '1'],
  ['net.ipv4.tcp_window_scaling', '1'],
  ['net.ipv4.ip_local_port_range', '32768 60999'],
];

/**
 * TCP_DEFAULTS with the buffer sizes and SACK setting the scenario's `tcp:` section (or the node's own,
 * for a node and its pods: tcpSettingsOf) sets instead. Its congestion
 * control is not a sysctl here: a namespace other than the initial one may only default to one
 * listed in the global net.ipv4.tcp_allowed_congestion_control ("reno bbr" on this machine:
 * cubic gives EPERM), which the harness leaves alone; the agents set it on their sockets
 * (socketCongestionControl, TCP_CONGESTION, which root may set to any available one).
 */
function tcpSysctls(spec: TopologySpec, component: string): ReadonlyArray<[string, string]> {
  const t = tcpSettingsOf(spec, component);
  const set = new Map<string, string>([
    ...(t.rmem !== undefined ? [['net.ipv4.tcp_rmem', t.rmem.join(' ')] as [string, string]] : []),
    ...(t.wmem !== undefined ? [['net.ipv4.tcp_wmem', t.wmem.join(' ')] as [string, string]] : []),
    ...(t.sack !== undefined ? [['net.ipv4.tcp_sack', t.sack ? '1' : '0'] as [string, string]] : []),
  ]);
  return TCP_DEFAULTS.map(([key, v]) => [key, set.get(key) ?? v]);
}

/** The congestion control the traffic agents in namespace `ns` set on their TCP sockets, when the scenario (or its node) picks one other than Reno. */
export function socketCongestionControl(spec: TopologySpec, ns: string): string | undefined {
  const component = spec.namespaces.find((n) => n.name === ns)?.component;
  const cc = component === undefined ? spec.tcp?.congestionControl : tcpSettingsOf(spec, component).congestionControl;
  return cc === undefined || cc === 'reno' ? undefined : cc;
}

export async function buildKernelTopology(spec: TopologySpec): Promise<KernelTopology> {
  const prefix = `${RUN_PREFIX}${buildCounter++}-`;
  const namespaces = new Map<string, string>();
  spec.namespaces.forEach((ns, i) => {
    if (namespaces.has(ns.name)) throw new Error(`duplicate namespace "${ns.name}" in topology ${spec.name}`);
    namespaces.set(ns.name, `${prefix}${i}-${ns.name.replace(/[^A-Za-z0-9_.-]/g, '.').slice(0, 40)}`);
  });
  const interfaces = new Map<string, KernelInterface>();
  const renamed = new Map<string, string>();
  for (const ns of spec.namespaces) assignInterfaceNames(ns, namespaces.get(ns.name)!, interfaces, renamed);
  checkLinks(spec, interfaces);

  const created: string[] = [];
  let tornDown = false;
  const topo: KernelTopology = {
    spec,
    prefix,
    namespaces,
    interfaces,
    renamed,
    netns(specNs) {
      const n = namespaces.get(specNs);
      if (n === undefined) throw new Error(`unknown namespace "${specNs}"`);
      return n;
    },
    resolvePoint(point) {
      const k = interfaces.get(point);
      if (k === undefined) {
        const { ns } = splitPoint(point);
        const known = spec.namespaces.find((n) => n.name === ns);
        const names = known ? [...known.bridges, ...known.interfaces].map((i) => i.name).join(', ') : '';
        throw new Error(known ? `unknown interface in capture point "${point}" (${ns} has ${names})` : `unknown namespace in capture point "${point}"`);
      }
      return k;
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      for (const ns of created) {
        await run('ip', ['netns', 'del', ns]).catch(() => undefined);
        liveNamespaces.delete(ns);
      }
      const left = listOwnNamespaces().filter((n) => n.startsWith(prefix));
      if (left.length > 0) {
        for (const ns of left) runSync('ip', ['netns', 'del', ns]);
        const still = listOwnNamespaces().filter((n) => n.startsWith(prefix));
        if (still.length > 0) throw new Error(`teardown left namespaces: ${still.join(', ')}`);
      }
    },
  };

  try {
    const k = (ns: string, name: string) => interfaces.get(`${ns}/${name}`)!.ifname;
    for (const ns of spec.namespaces) {
      const netns = namespaces.get(ns.name)!;
      await run('ip', ['netns', 'add', netns]);
      created.push(netns);
      liveNamespaces.add(netns);
      // IPv4-only emulator: IPv6 off (no RS, MLD or DAD frames in the captures).
      const sysctls = [
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
        `net.ipv4.ip_forward=${ns.ipForward ? 1 : 0}`,
        ...IPV4_CONF_DEFAULTS.flatMap(([key, v]) => [`net.ipv4.conf.all.${key}=${v}`, `net.ipv4.conf.default.${key}=${v}`]),
        ...tcpSysctls(spec, ns.component).map(([key, v]) => `${key}=${v}`),
      ];
      await run('ip', inNetns(netns, ['sysctl', '-q', '-w', ...sysctls]));
      await setBridgeNfCallIptables(ns, netns);
      await ip(netns, 'link', 'set', 'lo', 'up');
      for (const b of ns.bridges) {
        const name = k(ns.name, b.name);
        // mcast_snooping 0: with snooping on, the bridge joins 224.0.0.106 (RFC 4286 all-snoopers,
        // net/bridge/br_multicast.c br_multicast_join_snoopers) and sends IGMPv3 reports for about a
        // second after it comes up; without it the bridge floods multicast, which is what podwire models.
        await ip(netns, 'link', 'add', name, 'address', b.mac, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0',
          'ageing_time', String(ageingCentiseconds(b)));
        // Set again explicitly: a bridge whose MAC was set by the user keeps it when ports join
        // (net/bridge/br_stp_if.c, br_stp_recalculate_bridge_id).
        await ip(netns, 'link', 'set', name, 'address', b.mac);
      }
    }
    // veth pairs for both link kinds: wire delay/bandwidth/loss are not emulated here.
    for (const link of spec.links) {
      const a = interfaces.get(`${link.a.ns}/${link.a.ifname}`)!;
      const b = interfaces.get(`${link.b.ns}/${link.b.ifname}`)!;
      const aSpec = findInterface(spec, link.a.ns, link.a.ifname);
      const bSpec = findInterface(spec, link.b.ns, link.b.ifname);
      await ip(a.netns, 'link', 'add', a.ifname, 'address', aSpec.mac, 'type', 'veth', 'peer', 'name', b.ifname, 'address', bSpec.mac, 'netns', b.netns);
      for (const [end, s] of [[a, aSpec], [b, bSpec]] as const) {
        await ip(end.netns, 'link', 'set', end.ifname, 'mtu', String(s.mtu), 'txqueuelen', String(link.txQueueLen));
        await noSegmentationOffload(end.netns, end.ifname);
      }
    }
    for (const ns of spec.namespaces) {
      const netns = namespaces.get(ns.name)!;
      for (const i of ns.interfaces) {
        if (i.master === undefined) continue;
        await ip(netns, 'link', 'set', k(ns.name, i.name), 'master', k(ns.name, i.master));
        if (i.hairpin) await ip(netns, 'link', 'set', k(ns.name, i.name), 'type', 'bridge_slave', 'hairpin', 'on');
      }
      // After the ports joined: an MTU set by the user is kept (br_mtu_auto_adjust).
      for (const b of ns.bridges) await ip(netns, 'link', 'set', k(ns.name, b.name), 'mtu', String(b.mtu));
      for (const dev of [...ns.bridges, ...ns.interfaces]) {
        for (const addr of dev.addresses) await ip(netns, 'addr', 'add', addr, 'dev', k(ns.name, dev.name));
      }
      for (const dev of [...ns.bridges, ...ns.interfaces]) await ip(netns, 'link', 'set', k(ns.name, dev.name), 'up');
      await addTunnels(ns, netns, k);
    }
    await waitForwarding(spec, namespaces, interfaces);
    // Routes last: a gateway must be reachable through an up, addressed device.
    for (const ns of spec.namespaces) {
      const netns = namespaces.get(ns.name)!;
      for (const r of namespaceRoutes(spec, ns)) {
        const args = ['route', 'add', r.dst === '0.0.0.0/0' ? 'default' : r.dst];
        if (r.via !== undefined) args.push('via', r.via);
        args.push('dev', k(ns.name, r.dev));
        if (r.src !== undefined) args.push('src', r.src);
        if (r.metric !== undefined) args.push('metric', String(r.metric));
        if (r.onlink === true) args.push('onlink');
        await ip(netns, ...args);
      }
    }
  } catch (err) {
    await topo.teardown().catch(() => undefined);
    throw err;
  }
  return topo;
}

/**
 * The namespace's tunnel devices as flannel makes them (scenarios/overlay.ts):
 * vxlan with its static FDB entries and permanent neighbours, bound to the
 * device holding its local address; ipip with a local address only (remote
 * any, ttl inherit).
 */
async function addTunnels(ns: NamespaceSpec, netns: string, k: (ns: string, name: string) => string): Promise<void> {
  for (const t of ns.tunnels ?? []) {
    const name = k(ns.name, t.name);
    if (t.kind === 'vxlan') {
      const under = ns.interfaces.find((i) => i.addresses.some((a) => a.split('/')[0] === t.local));
      if (under === undefined) throw new Error(`${ns.name}/${t.name}: no interface holds its local address ${t.local}`);
      await ip(netns, 'link', 'add', name, 'address', t.mac, 'type', 'vxlan', 'id', String(t.vni), 'local', t.local, 'dev', k(ns.name, under.name),
        'dstport', String(t.port), 'nolearning', t.udpCsum ? 'udpcsum' : 'noudpcsum');
    } else {
      await ip(netns, 'link', 'add', name, 'type', 'ipip', 'local', t.local);
    }
    await ip(netns, 'link', 'set', name, 'mtu', String(t.mtu));
    await noSegmentationOffload(netns, name);
    for (const addr of t.addresses) await ip(netns, 'addr', 'add', addr, 'dev', name);
    await ip(netns, 'link', 'set', name, 'up');
    if (t.kind === 'vxlan') for (const f of t.fdb) await run('bridge', ['-n', netns, 'fdb', 'append', f.mac, 'dev', name, 'dst', f.dst]);
  }
  for (const n of ns.neighbours ?? []) await ip(netns, 'neigh', 'replace', n.ip, 'lladdr', n.mac, 'dev', k(ns.name, n.dev), 'nud', 'permanent');
}

/**
 * net.bridge.bridge-nf-call-iptables as the spec says (default 1, the kernel's
 * default too). The br_netfilter sysctls are per namespace (since Linux 5.3,
 * net/bridge/br_netfilter_hooks.c, br_netfilter_sysctl_init_net) and exist only
 * while br_netfilter is loaded; without it bridged frames never see iptables,
 * which is what 0 asks for, so only a namespace that needs 1 fails.
 */
async function setBridgeNfCallIptables(ns: NamespaceSpec, netns: string): Promise<void> {
  const want = ns.bridgeNfCallIptables ?? true;
  try {
    await run('ip', inNetns(netns, ['sysctl', '-q', '-w', `net.bridge.bridge-nf-call-iptables=${want ? 1 : 0}`]));
  } catch (err) {
    const needed = want && ns.bridges.length > 0 && (ns.iptables ?? []).length > 0;
    if (needed) throw new Error(`${ns.name}: cannot set net.bridge.bridge-nf-call-iptables (is br_netfilter loaded?): ${(err as Error).message}`);
  }
}

function ip(netns: string, ...args: string[]): Promise<string> {
  return run('ip', ['-n', netns, ...args]);
}

/**
 * TSO, GSO and GRO off on a veth or tunnel: TCP then builds one skb per segment
 * (tcp_xmit_size_goal), the frames podwire sends, and a VXLAN device no longer
 * merges the segments it decapsulates (gro_cells); otherwise devices carry (and
 * tcpdump shows) super-frames of many segments, and a reduced MSS resends one
 * whole. Bridges keep theirs: their own stack sends nothing large here, and
 * with offloads on, libpcap sizes a bridge's capture ring for frames of the
 * full snap length, where br_netfilter's reassembled datagrams show whole.
 */
function noSegmentationOffload(netns: string, ifname: string): Promise<string> {
  return run('ip', ['netns', 'exec', netns, 'ethtool', '-K', ifname, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
}

function assignInterfaceNames(ns: NamespaceSpec, netns: string, out: Map<string, KernelInterface>, renamed: Map<string, string>): void {
  const devices: Array<{ dev: { name: string }; isBridge: boolean }> = [
    ...ns.bridges.map((dev) => ({ dev, isBridge: true })),
    ...ns.interfaces.map((dev) => ({ dev, isBridge: false })),
    ...(ns.tunnels ?? []).map((dev) => ({ dev, isBridge: false })),
  ];
  const used = new Set<string>(['lo']);
  for (const { dev } of devices) {
    if (dev.name === 'lo') throw new Error(`${ns.name}: "lo" is implicit and must not be listed`);
    if (isValidIfName(dev.name)) used.add(dev.name);
  }
  let next = 0;
  for (const { dev, isBridge } of devices) {
    const point = `${ns.name}/${dev.name}`;
    if (out.has(point)) throw new Error(`duplicate interface "${point}"`);
    let ifname = dev.name;
    if (!isValidIfName(ifname)) {
      do ifname = `pw${next++}`;
      while (used.has(ifname));
      used.add(ifname);
      renamed.set(point, ifname);
    }
    out.set(point, { ns: ns.name, name: dev.name, netns, ifname, isBridge });
  }
  // Loopback exists in every namespace and may be a capture point ("n1/p1/lo").
  out.set(`${ns.name}/lo`, { ns: ns.name, name: 'lo', netns, ifname: 'lo', isBridge: false });
}

function findInterface(spec: TopologySpec, ns: string, name: string): InterfaceSpec {
  const i = spec.namespaces.find((n) => n.name === ns)?.interfaces.find((x) => x.name === name);
  if (i === undefined) throw new Error(`link end ${ns}/${name} is not an interface of the topology`);
  return i;
}

/** Every interface must be exactly one link end; bridges and masters must exist. */
function checkLinks(spec: TopologySpec, interfaces: Map<string, KernelInterface>): void {
  const ends = new Map<string, number>();
  for (const l of spec.links) {
    for (const e of [l.a, l.b]) {
      const point = `${e.ns}/${e.ifname}`;
      findInterface(spec, e.ns, e.ifname);
      ends.set(point, (ends.get(point) ?? 0) + 1);
    }
  }
  for (const ns of spec.namespaces) {
    for (const i of ns.interfaces) {
      const n = ends.get(`${ns.name}/${i.name}`) ?? 0;
      if (n !== 1) throw new Error(`${ns.name}/${i.name} is an end of ${n} links (expected 1)`);
      if (i.master !== undefined && !interfaces.get(`${ns.name}/${i.master}`)?.isBridge) {
        throw new Error(`${ns.name}/${i.name}: master "${i.master}" is not a bridge of ${ns.name}`);
      }
    }
  }
}

interface IpLinkJson {
  ifname: string;
  operstate?: string;
  master?: string;
  linkinfo?: { info_slave_kind?: string; info_slave_data?: { state?: string } };
}

/**
 * Waits until every interface is operationally up and every bridge port is
 * forwarding. With STP off a port forwards as soon as it has carrier, but the
 * carrier change reaches the bridge through linkwatch, which may batch it for
 * up to a second (net/core/link_watch.c).
 */
async function waitForwarding(spec: TopologySpec, namespaces: Map<string, string>, interfaces: Map<string, KernelInterface>): Promise<void> {
  let pending: string[] = [];
  const ready = async (): Promise<boolean> => {
    pending = [];
    for (const ns of spec.namespaces) {
      const netns = namespaces.get(ns.name)!;
      const links = JSON.parse(await run('ip', ['-n', netns, '-j', '-d', 'link', 'show'])) as IpLinkJson[];
      const byName = new Map(links.map((l) => [l.ifname, l]));
      for (const i of ns.interfaces) {
        const l = byName.get(interfaces.get(`${ns.name}/${i.name}`)!.ifname);
        if (l?.operstate !== 'UP') pending.push(`${ns.name}/${i.name} is ${l?.operstate ?? 'missing'}`);
        if (i.master !== undefined && l?.linkinfo?.info_slave_data?.state !== 'forwarding') {
          pending.push(`${ns.name}/${i.name} port state ${l?.linkinfo?.info_slave_data?.state ?? 'unknown'}`);
        }
      }
      for (const b of ns.bridges) {
        const hasPorts = ns.interfaces.some((i) => i.master === b.name);
        const l = byName.get(interfaces.get(`${ns.name}/${b.name}`)!.ifname);
        if (hasPorts && l?.operstate !== 'UP') pending.push(`${ns.name}/${b.name} is ${l?.operstate ?? 'missing'}`);
      }
    }
    return pending.length === 0;
  };
  if (!(await waitUntil(ready, 5_000, 50))) throw new Error(`links not ready after 5 s: ${pending.join('; ')}`);
}
