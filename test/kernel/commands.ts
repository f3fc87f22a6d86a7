/**
 * Running the tools the kernel harness drives (ip, tcpdump, ping, node) and
 * keeping track of every process it starts, so that teardown ends exactly
 * those processes, by pid, and nothing else.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${exitCode}): ${stderr.trim() || '(no output)'}`);
    this.name = 'CommandError';
  }
}

/** Runs a command to completion; rejects with its stderr when it fails. */
export function run(file: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof err.code === 'number' ? err.code : null;
        reject(new CommandError([file, ...args].join(' '), code, stderr || err.message));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** Runs a command with `input` on its standard input (iptables-restore reads its rules there). */
export function runWithInput(file: string, args: readonly string[], input: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof err.code === 'number' ? err.code : null;
        reject(new CommandError([file, ...args].join(' '), code, stderr || err.message));
      } else {
        resolve(stdout);
      }
    });
    child.stdin?.end(input);
  });
}

/** Synchronous variant, for prerequisite checks and exit-time cleanup. */
export function runSync(file: string, args: readonly string[], timeoutMs = 10_000): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { timeout: timeoutMs, encoding: 'utf8' });
  return { ok: r.status === 0 && !r.error, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** `ip netns exec NS cmd...`: iproute2 execs the command itself, so the child's pid is the command's. */
export function inNetns(netns: string, argv: readonly string[]): string[] {
  return ['netns', 'exec', netns, ...argv];
}

/**
 * A traffic agent's command, on CPU 0 (`taskset`, which execs it, so the pid
 * stays the agent's). Across namespaces every veth hop queues a frame on the
 * backlog of the CPU that sent it, so a segment a socket sends from softirq
 * (a quick ACK, on the CPU that took the data in) and one its process sends
 * (a FIN, on the process's CPU) can overtake each other on the way when the
 * two CPUs differ: seen once under the test suite's load, a client's FIN
 * ahead of the ACK it sent first. One CPU keeps them in order, as podwire does.
 */
export function onAgentCpu(argv: readonly string[]): string[] {
  return ['taskset', '-c', '0', ...argv];
}

export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  stdout: string;
  stderr: string;
}

/**
 * The processes one harness run started. `stopAll` signals only these pids:
 * SIGINT first (tcpdump flushes its file on it), then SIGTERM, then SIGKILL.
 */
export class ProcessSet {
  private readonly procs: Started[] = [];

  start(name: string, file: string, args: readonly string[], options: { stdin?: boolean; hardTimeoutMs: number }): Started {
    const child = spawn(file, args, { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const started: Started = {
      name,
      child,
      stdout: '',
      stderr: '',
      exited: new Promise((resolve) => {
        child.on('error', (e) => {
          started.stderr += String(e);
          resolve('spawn-error');
        });
        child.on('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      }),
    };
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (started.stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (started.stderr += s));
    // A bound on every process, whatever happens to the run that started it.
    const killer = setTimeout(() => signal(child, 'SIGKILL'), options.hardTimeoutMs);
    killer.unref();
    void started.exited.then(() => clearTimeout(killer));
    this.procs.push(started);
    return started;
  }

  /** Processes that have not exited yet. */
  running(): Started[] {
    return this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  }

  async stop(procs: readonly Started[], graceMs = 2_000): Promise<void> {
    const steps: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
    for (const sig of steps) {
      const alive = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
      if (alive.length === 0) return;
      for (const p of alive) signal(p.child, sig);
      await Promise.race([Promise.all(alive.map((p) => p.exited)), sleep(graceMs)]);
    }
  }

  stopAll(graceMs?: number): Promise<void> {
    return this.stop(this.procs, graceMs);
  }
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill(sig);
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `test` every `stepMs` until it returns true or `timeoutMs` passes. */
export async function waitUntil(test: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await test()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/**
 * Two new namespaces `a` and `b` joined by a veth, va in a (`addrA`, a CIDR) and
 * vb in b (`addrB`), both ends and both loopbacks up: the smallest topology the
 * device-level comparisons (tbf, TCP small queues) build.
 */
export async function vethPairNamespaces(a: string, b: string, addrA: string, addrB: string): Promise<void> {
  for (const ns of [a, b]) await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', a, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b]);
  await run('ip', ['-n', a, 'addr', 'add', addrA, 'dev', 'va']);
  await run('ip', ['-n', b, 'addr', 'add', addrB, 'dev', 'vb']);
  for (const [ns, dev] of [[a, 'va'], [b, 'vb']] as const) {
    await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
}
