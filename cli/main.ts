import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { performance } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { basename, join, relative } from 'node:path';
import { listScenarios, resolveScenario, resolveScenarioPath } from '../scenarios/library.js';
import { declaresSweep, loadSweepFile } from '../scenarios/sweep/grid.js';
import { runSweep } from '../scenarios/sweep/run-sweep.js';
import { mergeSweepDirs } from '../scenarios/sweep/merge.js';
import { parseShard } from '../scenarios/sweep/shard.js';
import { expandScenario } from '../scenarios/expand.js';
import { runTopology } from '../scenarios/run.js';
import { runPartitioned } from '../scenarios/partitioned-run.js';
import { sparseLoad } from '../scenarios/partition-plan.js';
import { parseDuration } from '../engine/time.js';
import { formatSummary } from './summary.js';
import { formatResults } from '../scenarios/results.js';
import { type ProgressStream, runProgress, sweepProgress } from './progress.js';
import { traceScenario } from '../scenarios/trace.js';
import { formatTrace } from '../models/trace/tracer.js';
import { parseCidr, parseIpv4 } from '../models/wire/addr.js';
import { readFileSync } from 'node:fs';
import { explainPacket, formatExplanation, type EntryHook, type ProbeProto, type RulesLayer } from '../models/netfilter/explain/index.js';

function seedOption(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('the seed is a whole number >= 0');
  return Number(v);
}

function positiveInt(v: string): number {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('expected a whole number >= 1');
  return Number(v);
}

function addressOption(flag: string, v: string): number {
  try {
    return parseIpv4(v);
  } catch {
    throw new Error(`${flag}: "${v}" is not an IPv4 address`);
  }
}

function portOption(v: string): number {
  if (!/^[1-9]\d*$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('expected a port, 1-65535');
  return Number(v);
}

/** A rules file for `iptables trace`, named in its errors as given. */
function rulesFile(flag: string, path: string): RulesLayer {
  try {
    return { text: readFileSync(path, 'utf8'), file: path };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${flag}: cannot read "${path}"${code === 'ENOENT' ? ': no such file' : code === 'EISDIR' ? ': is a directory' : `: ${(e as Error).message}`}`);
  }
}

/** --local-ip: an address, or ADDR/LEN to give the node's uplink that prefix. */
function localAddress(v: string): { addr: number; prefixLen: number } {
  try {
    if (v.includes('/')) {
      const c = parseCidr(v);
      return { addr: c.addr, prefixLen: c.prefixLen };
    }
    return { addr: parseIpv4(v), prefixLen: 32 };
  } catch {
    throw new Error(`--local-ip: "${v}" is not an IPv4 address (or ADDR/LEN)`);
  }
}

function workersOption(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number >= 0 (0 runs the points in this thread)');
  return Number(v);
}

/** A scenario with a `sweep:` has no single run: say which command runs it. */
function refuseSweep(name: string, command: string): void {
  const path = resolveScenarioPath(name);
  if (declaresSweep(readFileSync(path, 'utf8'))) {
    throw new Error(`${name} declares a sweep: run it with \`podwire sweep ${name}\` (${command} runs one scenario; remove \`sweep:\` to ${command} it alone)`);
  }
}

function durationOption(v: string): number {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** Where the CLI writes; tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Where a progress bar may be drawn (stderr); by default only when it is a terminal. */
  progress?: ProgressStream;
}

const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  progress: process.stderr,
};

/** Runs the podwire CLI on `argv` (without "node" and the script) and returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const log = (line: string) => io.out(line + '\n');
  const program = new Command()
    .name('podwire')
    .description('Packet-level discrete-event emulator of Kubernetes and container networking.')
    .showHelpAfterError('(run podwire --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.out(t), writeErr: (t) => io.err(t) });

  program
    .command('run')
    .description('run a scenario: writes one capture per capture point and results.json, prints a per-flow table')
    .argument('<scenario>', 'a ready scenario name (see `podwire list`; "default" = cross-node) or a scenario YAML file')
    .option('-o, --out <dir>', 'output folder (default: out/<scenario name>)')
    .option('-s, --seed <n>', "seed for every random stream (overrides the scenario's)", seedOption)
    .option('-d, --duration <time>', "simulated time to run, e.g. 2s, 500ms (overrides the scenario's)", durationOption)
    .option('-f, --format <format>', 'capture format: pcapng or pcap (classic, nanosecond)', 'pcapng')
    .option('-w, --workers <n>', 'worker threads: the scenario is cut into this many partitions at node links (same output for any n; 1 runs in this thread). Default: one per core, or 1 when the traffic is too sparse for threads to pay', positiveInt)
    .option('--single-capture', 'write one pcapng, captures/all.pcapng, with every capture point as an interface (like tcpdump -i any, but keeping the interfaces apart)')
    .option('--json', 'print results.json instead of the table')
    .option('--progress', 'show the run\'s progress on stderr (default: when stderr is a terminal)')
    .option('--no-progress', 'never show it')
    .action(async (name: string, opts: { out?: string; seed?: number; duration?: number; format: string; workers?: number; singleCapture?: boolean; json?: boolean; progress?: boolean }) => {
      if (opts.format !== 'pcapng' && opts.format !== 'pcap') throw new Error(`--format: expected pcapng or pcap, got "${opts.format}"`);
      refuseSweep(name, 'run');
      const scenario = resolveScenario(name);
      const spec = expandScenario(scenario);
      if (opts.seed !== undefined) spec.seed = opts.seed;
      if (opts.duration !== undefined) spec.durationNs = opts.duration;
      const outDir = opts.out ?? join('out', spec.name);
      // The default is a thread per core, unless the traffic is too sparse for threads to pay
      // (the output is the same either way); an explicit --workers is obeyed and only hinted at.
      let workers = opts.workers ?? availableParallelism();
      const sparse = workers > 1 ? sparseLoad(spec) : null;
      const oneThread = opts.workers === undefined && sparse !== null;
      if (oneThread) workers = 1;
      const t0 = performance.now();
      const bar = io.progress !== undefined && (opts.progress ?? io.progress.isTTY === true) ? runProgress(spec.durationNs, io.progress) : null;
      const runOpts = {
        outDir,
        format: opts.format as 'pcapng' | 'pcap',
        singleCapture: opts.singleCapture === true,
        ...(bar !== null ? { onProgress: (simNs: number, events: number) => bar.update(simNs, events) } : {}),
      };
      let r;
      try {
        r = workers > 1 ? await runPartitioned(spec, { ...runOpts, workers }) : { ...runTopology(spec, runOpts), plan: null };
        bar?.update(spec.durationNs, r.results.events);
      } finally {
        bar?.stop();
      }
      const wall = (performance.now() - t0) / 1000;
      if (opts.json) {
        io.out(formatResults(r.results));
        return;
      }
      log(`scenario ${spec.name} (seed ${spec.seed}, ${spec.durationNs / 1e9}s simulated)`);
      log(formatSummary(r.results));
      log(
        `${opts.singleCapture ? `${r.captureFiles.size} capture points in one file` : `${r.captureFiles.size} captures`} (${r.results.framesCaptured} frames) in ${relative(process.cwd(), join(outDir, 'captures')) || '.'}/, ` +
          `statistics in ${relative(process.cwd(), r.resultsFile)}`,
      );
      const threads = r.plan !== null && r.plan.parts > 1 ? ` on ${r.plan.parts} worker threads` : '';
      const thin = (l: { perWindow: number; windowNs: number }) =>
        `${l.perWindow < 1 ? 'under one event' : `about ${Math.round(l.perWindow)} events`} per ${l.windowNs / 1000} us window, too few for threads to pay`;
      if (oneThread) log(`ran in one thread: ${thin(sparse!)} (--workers N cuts it anyway)`);
      const cutSparse = r.plan !== null && r.plan.parts > 1 ? sparseLoad(spec, r.plan.lookaheadNs) : null;
      if (cutSparse !== null) log(`hint: ${thin(cutSparse)}: --workers 1 is likely faster`);
      log(`${r.results.events} events in ${wall.toFixed(2)}s wall${threads} (${Math.round(r.results.events / wall).toLocaleString('en-US')} events/s)`);
    });

  program
    .command('trace')
    .description('trace packets through a scenario: every device, bridge decision, hook, route and drop they meet')
    .argument('<scenario>', 'scenario name or YAML file')
    .option('--flow <name>', 'trace a request of this flow (names as in the run table)')
    .option('--packet <n>', 'which request of the flow (1-based)', positiveInt, 1)
    .option('--proto <proto>', 'or: the first packet of this protocol (icmp, udp, tcp) ...')
    .option('--src <ip>', '... from this address')
    .option('--dst <ip>', '... to this address')
    .option('--dport <port>', '... to this port', positiveInt)
    .option('--count <n>', 'how many packets matching the filter', positiveInt, 1)
    .option('--follow-reply', 'also trace the answer the packet provokes')
    .option('--all-rules', 'list every iptables rule evaluated with its match result, not only those that matched')
    .option('-s, --seed <n>', "seed (overrides the scenario's)", seedOption)
    .option('-d, --duration <time>', 'simulated time to run', durationOption)
    .option('-w, --workers <n>', 'worker threads, cut as `run --workers` cuts (the same trace for any n; 1 runs in this thread)', positiveInt, 1)
    .option('--json', 'print the steps as JSON')
    .action(
      async (
        name: string,
        o: {
          flow?: string;
          packet: number;
          proto?: string;
          src?: string;
          dst?: string;
          dport?: number;
          count: number;
          followReply?: boolean;
          allRules?: boolean;
          seed?: number;
          duration?: number;
          workers: number;
          json?: boolean;
        },
      ) => {
        if (o.flow === undefined && o.proto === undefined && o.src === undefined && o.dst === undefined && o.dport === undefined) {
          throw new Error('trace: say what to trace: --flow NAME, or a filter (--proto, --src, --dst, --dport)');
        }
        if (o.proto !== undefined && o.proto !== 'icmp' && o.proto !== 'udp' && o.proto !== 'tcp') throw new Error(`--proto: expected icmp, udp or tcp, got "${o.proto}"`);
        refuseSweep(name, 'trace');
        const spec = expandScenario(resolveScenario(name));
        if (o.seed !== undefined) spec.seed = o.seed;
        if (o.duration !== undefined) spec.durationNs = o.duration;
        const { steps } = await traceScenario(spec, {
          ...(o.flow !== undefined ? { flow: o.flow, packet: o.packet } : {}),
          ...(o.proto !== undefined ? { proto: o.proto as 'icmp' | 'udp' | 'tcp' } : {}),
          ...(o.src !== undefined ? { src: addressOption('--src', o.src) } : {}),
          ...(o.dst !== undefined ? { dst: addressOption('--dst', o.dst) } : {}),
          ...(o.dport !== undefined ? { dport: o.dport } : {}),
          count: o.count,
          followReply: o.followReply === true,
          allRules: o.allRules === true,
        }, { workers: o.workers });
        if (o.json) io.out(JSON.stringify(steps, null, 2) + '\n');
        else if (steps.length === 0) log('no packet matched (nothing traced)');
        else log(formatTrace(steps));
      },
    );

  const iptables = program.command('iptables').description('iptables tools that need no scenario');
  iptables
    .command('trace')
    .description(
      'evaluate one packet against an iptables-save dump as a node owning --local-ip (and 127.0.0.0/8) would: ' +
        'verdict, every destination with its probability (all -m statistic branches), masquerade, and the path',
    )
    .requiredOption('--rules <file>', 'iptables-save output to evaluate (applied with --noflush on top of --base)')
    .requiredOption('--src <ip>', 'source address of the packet')
    .requiredOption('--dst <ip>', 'destination address')
    .option('--proto <proto>', 'tcp, udp or icmp (echo request)', 'tcp')
    .option('--dport <port>', 'destination port (tcp, udp)', portOption)
    .option('--sport <port>', 'source port', portOption, 40000)
    .option('--hook <hook>', 'where the packet enters: PREROUTING or OUTPUT (default: OUTPUT if --src is local, else PREROUTING)')
    .option('--in-iface <name>', 'device a PREROUTING packet arrives on', 'eth0')
    .option('--out-iface <name>', 'device forwarded and sent packets leave by; holds the --local-ip addresses', 'eth0')
    .option('--local-ip <ip...>', "the node's own addresses (ADDR or ADDR/LEN)")
    .option('--base <file>', "a ruleset loaded first, like the node's own chains under kube-proxy's")
    .option('--json', 'print {verdict, destinations, masquerade, path} as JSON')
    .action(
      (o: {
        rules: string;
        src: string;
        dst: string;
        proto: string;
        dport?: number;
        sport: number;
        hook?: string;
        inIface: string;
        outIface: string;
        localIp?: string[];
        base?: string;
        json?: boolean;
      }) => {
        if (o.proto !== 'tcp' && o.proto !== 'udp' && o.proto !== 'icmp') throw new Error(`--proto: expected tcp, udp or icmp, got "${o.proto}"`);
        if (o.proto !== 'icmp' && o.dport === undefined) throw new Error(`--dport: required for ${o.proto}`);
        let hook: EntryHook | undefined;
        if (o.hook !== undefined) {
          const h = o.hook.toUpperCase();
          if (h !== 'PREROUTING' && h !== 'OUTPUT') throw new Error(`--hook: expected PREROUTING or OUTPUT, got "${o.hook}"`);
          hook = h;
        }
        const src = addressOption('--src', o.src);
        const dst = addressOption('--dst', o.dst);
        const localAddrs = (o.localIp ?? []).map(localAddress);
        const rules = [...(o.base !== undefined ? [rulesFile('--base', o.base)] : []), rulesFile('--rules', o.rules)];
        const e = explainPacket({
          rules,
          probe: { proto: o.proto as ProbeProto, src, dst, sport: o.sport, dport: o.dport ?? 0 },
          ...(hook !== undefined ? { hook } : {}),
          node: { localAddrs, inIface: o.inIface, outIface: o.outIface },
        });
        if (o.json) {
          const json = { verdict: e.verdict, destinations: e.destinations, masquerade: e.masquerade, path: e.path };
          io.out(JSON.stringify(json, null, 2) + '\n');
        } else {
          log(formatExplanation(e));
        }
      },
    );

  program
    .command('list')
    .description('list the ready scenarios')
    .action(() => {
      const entries = listScenarios();
      const w = Math.max(...entries.map((e) => e.name.length));
      for (const e of entries) log(`${e.name.padEnd(w)}  ${e.description}`);
    });

  program
    .command('validate')
    .description('check a scenario file and print its errors, or "ok"')
    .argument('<scenario>', 'scenario name or YAML file')
    .action((name: string) => {
      const path = resolveScenarioPath(name);
      if (declaresSweep(readFileSync(path, 'utf8'))) {
        // Every point, as `podwire sweep` would run it.
        const plan = loadSweepFile(path);
        for (const p of plan.points) expandScenario(p.scenario);
        log(`ok (${plan.points.length} sweep point${plan.points.length === 1 ? '' : 's'})`);
        return;
      }
      expandScenario(resolveScenario(name));
      log('ok');
    });

  program
    .command('sweep')
    .description("run every point of a scenario's sweep: grid (one piscina task per point) and write sweep.json and sweep.csv")
    .argument('<scenario>', 'scenario name or YAML file with a sweep: mapping')
    .option('-o, --out <dir>', 'output folder (default: out/<scenario name>-sweep)')
    .option('-w, --workers <n>', 'worker threads (default: one per core, at most one per point; 0: run in this thread)', workersOption)
    .option('--shard <i/n>', 'run only the points k with k % n == i (e.g. a Kubernetes Indexed Job completion index); join with podwire merge')
    .option('-d, --duration <time>', "simulated time of every point (overrides the scenario's)", durationOption)
    .option('--progress', 'show the points done on stderr (default: when stderr is a terminal)')
    .option('--no-progress', 'never show them')
    .action(async (name: string, o: { out?: string; workers?: number; shard?: string; duration?: number; progress?: boolean }) => {
      const shard = o.shard !== undefined ? parseShard(o.shard) : null;
      const path = resolveScenarioPath(name);
      const outDir = o.out ?? join('out', `${basename(path).replace(/\.ya?ml$/i, '')}-sweep`);
      const t0 = performance.now();
      const bar = io.progress !== undefined && (o.progress ?? io.progress.isTTY === true) ? sweepProgress(io.progress) : null;
      let r;
      try {
        r = await runSweep(path, {
          outDir,
          shard,
          durationNs: o.duration ?? null,
          ...(o.workers !== undefined ? { workers: o.workers } : {}),
          ...(bar !== null ? { onPointDone: (done: number, total: number) => bar.update(done, total) } : {}),
        });
      } finally {
        bar?.stop();
      }
      const wall = (performance.now() - t0) / 1000;
      const which = shard === null ? '' : ` (shard ${shard.index}/${shard.count})`;
      log(`sweep ${r.table.scenario}: ${r.table.points.length} of ${r.table.pointCount} points${which} in ${wall.toFixed(2)}s wall`);
      log(`table in ${relative(process.cwd(), r.files.json)} and ${relative(process.cwd(), r.files.csv)}`);
    });

  program
    .command('merge')
    .description('join the outputs of podwire sweep --shard i/n into the sweep.json and sweep.csv of the whole sweep')
    .argument('<dir...>', 'shard output folders (each holding a sweep.json)')
    .requiredOption('-o, --out <dir>', 'folder for the merged sweep.json and sweep.csv')
    .action((dirs: string[], o: { out: string }) => {
      const r = mergeSweepDirs(dirs, o.out);
      log(`merged ${dirs.length} output${dirs.length === 1 ? '' : 's'}: ${r.table.points.length} points of ${r.table.scenario}`);
      log(`table in ${relative(process.cwd(), r.files.json)} and ${relative(process.cwd(), r.files.csv)}`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message already; --help and --version end with code 0.
      return e.exitCode;
    }
    // One line for the reason; scenario errors list each problem on its own line after it.
    io.err(`podwire: ${(e as Error).message}\n`);
    return 1;
  }
}
