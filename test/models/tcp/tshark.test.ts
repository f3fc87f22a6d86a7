/**
 * tshark as an independent judge of the TCP model's frames: a lossy transfer
 * with teardown, written as pcapng, dissects with no malformed frame and no
 * bad checksum (TCP checksum check turned on), tshark's own TCP analysis
 * finds the retransmissions, and it reads the SYN options as Linux's; the
 * SACK blocks of that transfer's ACKs read in tshark as podwire wrote them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapngWriter } from '../../../models/capture/index.js';
import { checkCaptureWithTshark, TSHARK_CHECKSUM_PREFS, tsharkFields, tsharkPath } from '../../helpers/tshark.js';
import { ip, SECOND } from '../helpers.js';
import { tcpFrames } from './tcp-helpers.js';
import { pair } from './topo.js';

const tshark = tsharkPath();
if (!tshark) console.warn('models/tcp/tshark: skipping: tshark is not on PATH (apt-get install tshark)');

describe.skipIf(!tshark)('TCP frames in tshark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podwire-tcp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('dissects a lossy transfer cleanly and sees its retransmissions', async () => {
    const { net, ta, tb } = pair({ bandwidthBps: 20e6, loss: 0.02, seed: 5 });
    tb.listen(80, { onAccept: () => ({ onEnd: (c) => c.close() }) });
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => { c.send(200_000); c.close(); } });
    });
    net.run(10 * SECOND);
    const path = join(dir, 'tcp.pcapng');
    const w = new PcapngWriter(path);
    const ifa = w.addInterface('a/eth0');
    let n = 0;
    for (const f of net.tap.frames) {
      if (f.dev !== 'a/eth0') continue;
      w.writePacket(ifa, f.t, f.bytes, 0, f.bytes.length, f.dir === 'in' ? 1 : 2);
      n++;
    }
    w.close();
    const check = await checkCaptureWithTshark(path);
    expect(check.frames).toBe(n);
    expect(check.problems).toEqual([]);
    const rows = await tsharkFields(path, ['tcp.flags.str', 'tcp.checksum.status', 'tcp.option_kind'], {
      filter: 'tcp',
      args: TSHARK_CHECKSUM_PREFS,
    });
    expect(rows.every((r) => r[1] === '1')).toBe(true); // PROTO_CHECKSUM_E_GOOD
    // SYN options in Linux's order: MSS(2), SACK_PERM(4), TS(8), NOP(1), WS(3).
    expect(rows[0]![2]).toBe('2,4,8,1,3');
    const retrans = await tsharkFields(path, ['frame.number'], { filter: 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission' });
    expect(retrans.length).toBeGreaterThan(0);

    // SACK blocks (kind 5) on the ACKs a receives: tshark's edges (absolute) equal podwire's, block for block.
    const ours = tcpFrames(net.tap, 'a/eth0')
      .filter((f) => f.options.sack !== undefined)
      .map((f) => [f.options.sack!.map((b) => b.left).join(','), f.options.sack!.map((b) => b.right).join(',')]);
    expect(ours.length).toBeGreaterThan(0);
    const theirs = await tsharkFields(path, ['tcp.options.sack_le', 'tcp.options.sack_re'], {
      filter: 'tcp.options.sack',
      args: ['-o', 'tcp.relative_sequence_numbers:FALSE'],
    });
    expect(theirs).toEqual(ours);
    const kinds = await tsharkFields(path, ['tcp.option_kind'], { filter: 'tcp.options.sack' });
    expect(kinds.every((r) => /^1,1,8,1,1,5$/.test(r[0]!))).toBe(true); // NOP NOP TS NOP NOP SACK
  });
});
