/** MessageFramer: message boundaries over byte counts. */
import { describe, expect, it } from 'vitest';
import { MessageFramer } from '../../../models/stack/tcp/message-framer.js';

describe('MessageFramer', () => {
  it('reports each expected message when its last byte arrives, however the bytes are split', () => {
    const got: number[] = [];
    const f = new MessageFramer((n) => got.push(n));
    f.expect(100);
    f.expect(3000);
    f.push(60);
    expect(got).toEqual([]);
    f.push(1448); // completes the first, 1408 of the second
    expect(got).toEqual([100]);
    f.push(1592);
    expect(got).toEqual([100, 3000]);
    f.push(10); // nothing expected: kept
    expect(f.pending).toBe(0);
    f.expect(10);
    expect(got).toEqual([100, 3000, 10]);
    expect(f.messages).toBe(3);
  });
});
