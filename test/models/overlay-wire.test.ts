/**
 * The VXLAN header (models/wire/vxlan.ts): fields read from and written to
 * the 8 bytes of RFC 7348 section 5, round trips, and what vxlan_rcv refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../../models/wire/errors.js';
import {
  VXLAN_HEADER_LEN,
  emitVxlan,
  parseVxlan,
  setVxlanVni,
  vxlanFlags,
  vxlanFlagsWord,
  vxlanVni,
} from '../../models/wire/vxlan.js';
import { hex, poisoned } from '../wire/fixtures.js';

/** The VXLAN header of a flannel frame (VNI 1), as `tshark -x` prints it after the outer UDP header. */
const FLANNEL_VNI_1 = hex('08 00 00 00 00 00 01 00');
/** VNI 0x123456 (RFC 7348 figure 1 layout: VNI in bytes 4-6, byte 7 reserved). */
const VNI_123456 = hex('08 00 00 00 12 34 56 00');

describe('VXLAN header', () => {
  it('reads flags and VNI from the fixtures', () => {
    expect(vxlanFlags(FLANNEL_VNI_1, 0)).toBe(0x08);
    expect(vxlanFlagsWord(FLANNEL_VNI_1, 0)).toBe(0x08000000);
    expect(vxlanVni(FLANNEL_VNI_1, 0)).toBe(1);
    expect(vxlanVni(VNI_123456, 0)).toBe(0x123456);
    expect(parseVxlan(VNI_123456, 0, 8)).toEqual({ vni: 0x123456 });
  });

  it('emits every byte, reserved ones as zero, into a poisoned buffer', () => {
    const buf = poisoned(VXLAN_HEADER_LEN);
    emitVxlan({ vni: 1 }, buf, 0);
    expect(buf).toEqual(FLANNEL_VNI_1);
    const buf2 = poisoned(VXLAN_HEADER_LEN + 4);
    emitVxlan({ vni: 0x123456 }, buf2, 2);
    expect(buf2.subarray(2, 10)).toEqual(VNI_123456);
    expect([buf2[0], buf2[1], buf2[10], buf2[11]]).toEqual([0xa5, 0xa5, 0xa5, 0xa5]);
  });

  it('setVxlanVni leaves the reserved byte zero', () => {
    const buf = FLANNEL_VNI_1.slice();
    setVxlanVni(buf, 0, 0xffffff);
    expect(buf).toEqual(hex('08 00 00 00 ff ff ff 00'));
  });

  it('parse(emit(r)) == r for every VNI', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 16 }), (vni, off) => {
        const buf = poisoned(off + VXLAN_HEADER_LEN);
        emitVxlan({ vni }, buf, off);
        expect(parseVxlan(buf, off, VXLAN_HEADER_LEN)).toEqual({ vni });
      }),
    );
  });

  it('refuses what vxlan_rcv drops: no I flag, other flags, reserved bits, truncation', () => {
    const cases: [string, string][] = [
      ['00 00 00 00 00 00 01 00', 'flags'],
      ['0c 00 00 00 00 00 01 00', 'flags'],
      ['08 00 00 01 00 00 01 00', 'flags'],
      ['08 00 00 00 00 00 01 01', 'reserved'],
    ];
    for (const [h, field] of cases) {
      const err = (() => {
        try {
          parseVxlan(hex(h), 0, 8);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, h).toBeInstanceOf(WireError);
      expect((err as WireError).field, h).toBe(field);
    }
    expect(() => parseVxlan(FLANNEL_VNI_1, 0, 7)).toThrow('vxlan: header truncated: 7 bytes, need 8');
  });
});
