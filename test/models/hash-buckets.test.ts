import { describe, expect, it } from 'vitest';
import { HashBuckets } from '../../models/hash-buckets.js';

interface Entry {
  name: string;
  n: number;
}
const sameName = (e: Entry, name: string) => e.name === name;

describe('HashBuckets', () => {
  it('keeps entries that share a hash apart, replaces one in place, and lets each go', () => {
    const b = new HashBuckets<Entry, string>(sameName);
    const e = (name: string, n = 0): Entry => ({ name, n });
    const [x, y, z] = [e('x'), e('y'), e('z')];
    b.put(7, x, undefined);
    b.put(7, y, undefined);
    b.put(9, z, undefined);
    expect([b.find(7, 'x'), b.find(7, 'y'), b.find(9, 'z'), b.find(7, 'z'), b.find(8, 'x')]).toEqual([x, y, z, undefined, undefined]);
    const y2 = e('y', 2);
    b.put(7, y2, b.find(7, 'y'));
    expect(b.find(7, 'y')).toBe(y2);
    expect([...b.values()]).toEqual([x, y2, z]);
    expect(b.remove(7, y)).toBe(false);
    expect(b.remove(7, x)).toBe(true);
    expect(b.find(7, 'x')).toBeUndefined();
    expect(b.find(7, 'y')).toBe(y2);
    expect(b.remove(7, y2)).toBe(true);
    expect(b.remove(7, y2)).toBe(false);
    expect([...b.values()]).toEqual([z]);
    // A bucket emptied and filled again holds one entry, then two.
    b.put(7, x, undefined);
    b.put(7, y, undefined);
    expect([...b.values()]).toEqual([z, x, y]);
    b.clear();
    expect([...b.values()]).toEqual([]);
  });
});
