import { describe, expect, it } from 'vitest';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ChannelReader, ChannelWriter, channelBytes } from '../../engine/channel.js';
import { partition } from '../../engine/partition.js';
import { PartitionAborted, WindowBarrier } from '../../engine/window-barrier.js';
import { PartitionStepper, runPartitionsInTurn, type Mailbox } from '../../engine/partition-stepper.js';
import { Simulation, type EventHandler } from '../../engine/simulation.js';

function pair(halfBytes: number) {
  const buffer = new SharedArrayBuffer(channelBytes(halfBytes));
  const { port1, port2 } = new MessageChannel();
  return { writer: new ChannelWriter(buffer, port1), reader: new ChannelReader(buffer, port2), close: () => (port1.close(), port2.close()) };
}

type Rec = [number, number, number, number, number, number[]];
function drain(reader: ChannelReader, step: number): Rec[] {
  const out: Rec[] = [];
  reader.read(step, (t, time, key, a, b, p) => out.push([t, time, key, a, b, [...p]]));
  return out;
}

describe('partition channel', () => {
  it('delivers a window’s records in order, alternating halves', () => {
    const c = pair(1024);
    c.writer.write(3, 100, 7, 1.5, 2, new Uint8Array([1, 2, 3]));
    c.writer.write(4, 90, 8, 0, 0, new Uint8Array(0));
    expect(c.writer.flush(0)).toBe(90);
    c.writer.write(5, 200, 9, 0, 0, new Uint8Array([9]));
    expect(c.writer.flush(1)).toBe(200);
    expect(drain(c.reader, 0)).toEqual([
      [3, 100, 7, 1.5, 2, [1, 2, 3]],
      [4, 90, 8, 0, 0, []],
    ]);
    expect(drain(c.reader, 1)).toEqual([[5, 200, 9, 0, 0, [9]]]);
    // An empty window reads nothing and reports no time.
    expect(c.writer.flush(2)).toBe(Infinity);
    expect(drain(c.reader, 2)).toEqual([]);
    c.close();
  });

  it('spills a window larger than a half into a message, keeping the order', () => {
    const c = pair(128);
    const sent: Rec[] = [];
    for (let i = 0; i < 20; i++) {
      const payload = Array.from({ length: i * 3 }, (_, k) => (k + i) & 0xff);
      c.writer.write(i, 1000 + i, i * 2, i, -i, new Uint8Array(payload));
      sent.push([i, 1000 + i, i * 2, i, -i, payload]);
    }
    c.writer.flush(0);
    expect(drain(c.reader, 0)).toEqual(sent);
    // The next window starts clean in the other half.
    c.writer.write(1, 1, 1, 1, 1, new Uint8Array([1]));
    c.writer.flush(1);
    expect(drain(c.reader, 1)).toEqual([[1, 1, 1, 1, 1, [1]]]);
    c.close();
  });
});

describe('partition()', () => {
  const components = ['a', 'b', 'c', 'd', 'e'].map((name, i) => ({ name, weight: [10, 1, 4, 4, 2][i]! }));
  const links = [
    { a: 'a', b: 'b', delayNs: 50 },
    { a: 'a', b: 'c', delayNs: 20 },
    { a: 'd', b: 'e', delayNs: 5 },
  ];

  it('balances by weight, heaviest first, and takes the lookahead from cut links only', () => {
    const p = partition({ components, links }, 2);
    // a (10) | c, d, e (4 + 4 + 2) | then b (1) breaks the 10-10 tie to partition 0.
    expect(p.loads).toEqual([11, 10]);
    expect([...p.partOf.entries()].filter(([, v]) => v === 1).map(([k]) => k).sort()).toEqual(['c', 'd', 'e']);
    // a-b and d-e stay inside a partition; only a-c (20) is cut.
    expect(p.cutLinks).toBe(1);
    expect(p.lookaheadNs).toBe(20);
  });

  it('is one partition with nothing cut when asked for one', () => {
    const p = partition({ components, links }, 1);
    expect(p.parts).toBe(1);
    expect(p.lookaheadNs).toBe(Infinity);
  });

  it('refuses a zero-delay cut and bad counts', () => {
    expect(() => partition({ components: [{ name: 'x', weight: 1 }, { name: 'y', weight: 1 }], links: [{ a: 'x', b: 'y', delayNs: 0 }] }, 2)).toThrow(/no delay/);
    expect(() => partition({ components, links }, 0)).toThrow(/>= 1/);
  });
});

/**
 * Two components that pass a token back and forth over a "wire" of delay 10:
 * run whole, and as two partitions stepped in turn, the token visits the same
 * times and the event count is the same.
 */
describe('conservative windows', () => {
  function pingPong(parts: 1 | 2) {
    const sims = parts === 1 ? [new Simulation(1)] : [new Simulation(1, (c) => c === 'a'), new Simulation(1, (c) => c === 'b')];
    const log: string[] = [];
    const boxes: { out: [number, number][]; in: [number, number][] }[] = sims.map(() => ({ out: [], in: [] }));
    const players = sims.map((sim, i) => {
      const comps = ['a', 'b'].map((n) => sim.component(n));
      const handlers: EventHandler[] = comps.map((c, k) => ({
        handleEvent(_kind: number, hops: unknown) {
          log.push(`${c.name}@${c.now}`);
          if ((hops as number) === 0) return;
          const other = comps[1 - k]!;
          const at = c.now + 10 + (c.now % 7);
          if (other.local) other.scheduleKeyed(at, c.nextKey(), handlers[1 - k]!, 0, (hops as number) - 1);
          else boxes[i]!.out.push([at, (hops as number) - 1]);
        },
      }));
      comps[0]!.scheduleAt(0, handlers[0]!, 0, 30);
      return { sim, comps, handlers };
    });
    if (parts === 1) {
      sims[0]!.run(1000);
      return { log, events: sims[0]!.executed };
    }
    const mailboxes: Mailbox[] = players.map((p, i) => ({
      flush: () => Math.min(Infinity, ...boxes[i]!.out.map(([t]) => t)),
      ingest: () => {
        const from = boxes[1 - i]!.out.splice(0);
        const me = p.comps[i]!;
        for (const [t, hops] of from) me.scheduleKeyed(t, 0, p.handlers[i]!, 0, hops);
      },
    }));
    const steppers = players.map((p, i) => new PartitionStepper(p.sim, mailboxes[i]!, 10, 1000));
    runPartitionsInTurn(steppers);
    return { log, events: sims[0]!.executed + sims[1]!.executed, windows: steppers[0]!.windows };
  }

  it('reproduce the whole run', () => {
    const whole = pingPong(1);
    const cut = pingPong(2);
    expect(cut.events).toBe(whole.events);
    expect([...cut.log].sort()).toEqual([...whole.log].sort());
    expect(cut.windows).toBeGreaterThan(10);
  });
});

describe('window barrier', () => {
  it('returns the global minimum to every partition', async () => {
    const buf = WindowBarrier.create(2);
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      const ctrl = new Int32Array(workerData, 0, 3);
      const times = new Float64Array(workerData, 16, 4);
      const out = [];
      for (let step = 0; step < 50; step++) {
        const base = (step & 1) * 2;
        times[base + 1] = 1000 - step;
        const gen = Atomics.load(ctrl, 1);
        if (Atomics.add(ctrl, 0, 1) === 1) { Atomics.store(ctrl, 0, 0); Atomics.add(ctrl, 1, 1); Atomics.notify(ctrl, 1); }
        else while (Atomics.load(ctrl, 1) === gen) Atomics.wait(ctrl, 1, gen, 50);
        out.push(Math.min(times[base], times[base + 1]));
      }
      parentPort.postMessage(out);`;
    const worker = new Worker(code, { eval: true, workerData: buf });
    const theirs = new Promise<number[]>((resolve) => worker.once('message', resolve));
    const b = new WindowBarrier(buf, 2, 0);
    const mine: number[] = [];
    // The main thread may block in Atomics.wait in Node; the worker runs alongside.
    for (let step = 0; step < 50; step++) mine.push(b.exchange(step, step % 3 === 0 ? 5 : 2000));
    const expected = Array.from({ length: 50 }, (_, s) => Math.min(s % 3 === 0 ? 5 : 2000, 1000 - s));
    expect(mine).toEqual(expected);
    expect(await theirs).toEqual(expected);
    await worker.terminate();
  });

  it("tells an onlooker the later of the two latest steps' minimum, a lower bound of every clock", () => {
    const buf = WindowBarrier.create(2);
    const onlooker = new WindowBarrier(buf, 2, -1);
    const times = new Float64Array(buf, 16, 4);
    expect(onlooker.clock()).toBe(0);
    // Step 0 (slot 0): the partitions' next work at 40 and 25 us; step 1 (slot 1) half published.
    times.set([40_000, 25_000, 60_000, 0]);
    expect(onlooker.clock()).toBe(25_000);
    times[3] = 45_000;
    expect(onlooker.clock()).toBe(45_000);
    // Both out of work.
    times.set([Infinity, Infinity], 0);
    expect(onlooker.clock()).toBe(Infinity);
  });

  it('an aborted barrier throws in every partition instead of waiting forever', () => {
    const buf = WindowBarrier.create(2);
    const a = new WindowBarrier(buf, 2, 0);
    new WindowBarrier(buf, 2, 1).abort();
    expect(() => a.exchange(0, 1)).toThrow(PartitionAborted);
  });
});
