/** A tiny sweep scenario (two nodes, one UDP flow, 50 ms) written to a temporary folder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TINY = `name: tiny
duration: 50ms
nodes:
  - name: n1
    pods: [{ name: p1 }]
  - name: n2
    pods: [{ name: p1 }]
traffic:
  - udp: { from: n1/p1, to: n2/p1, count: 5, rate: 100 }
servers:
  - { on: n2/p1, port: 9000 }
sweep:
  seed: [1, 2]
  underlay.delay: [10us, 50us]
  traffic[0].udp.count: [2, 5]
`;

export function workDir(): { dir: string; file: (name: string, text: string) => string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'podwire-sweep-'));
  return {
    dir,
    file: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}
