import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NfHook } from '../../../models/netfilter/hooks.js';
import type { Conntrack } from '../../../models/netfilter/conntrack/conntrack.js';
import { formatStats } from '../../../models/netfilter/conntrack/stats.js';
import { sortKey } from '../../../models/netfilter/conntrack/dump.js';
import { TCP_SYN } from '../../../models/wire/tcp.js';
import type { Packet } from '../../../models/packet.js';
import { kernelRefDir } from '../../helpers/kernel-ref.js';
import { SECOND, icmpEcho, makeConntrack, nfp, tcp, udp } from './frames.js';

function pass(ct: Conntrack, pkt: Packet): void {
  const p = nfp(pkt);
  ct.in(p);
  p.hook = NfHook.POST_ROUTING;
  ct.confirm(p);
}

describe('conntrack -L', () => {
  it('prints every protocol in conntrack-tools format, sorted by tuple, not by timeout', () => {
    const { ct, clock } = makeConntrack();
    pass(ct, udp({ src: '10.0.0.3', dst: '10.0.0.9', sport: 7, dport: 53 }));
    clock.t = 5 * SECOND;
    pass(ct, tcp({ src: '10.0.0.20', dst: '10.0.0.9', sport: 40000, dport: 80, flags: TCP_SYN, seq: 1 }));
    pass(ct, icmpEcho('10.0.0.1', '10.0.0.9', 8, 1));
    clock.t = 6.5 * SECOND;
    expect(ct.dump()).toBe(
      [
        'icmp     1 28 src=10.0.0.1 dst=10.0.0.9 type=8 code=0 id=1 [UNREPLIED] src=10.0.0.9 dst=10.0.0.1 type=0 code=0 id=1 mark=0 use=1',
        'tcp      6 118 SYN_SENT src=10.0.0.20 dst=10.0.0.9 sport=40000 dport=80 [UNREPLIED] src=10.0.0.9 dst=10.0.0.20 sport=80 dport=40000 mark=0 use=1',
        'udp      17 23 src=10.0.0.3 dst=10.0.0.9 sport=7 dport=53 [UNREPLIED] src=10.0.0.9 dst=10.0.0.3 sport=53 dport=7 mark=0 use=1',
        '',
      ].join('\n'),
    );
  });

  it('sorts like kernel-ref/lib/common.sh: protocol, timeout and state stripped, C collation', () => {
    expect(sortKey('tcp      6 431999 ESTABLISHED src=1.2.3.4 dst=5.6.7.8 x')).toBe('src=1.2.3.4 dst=5.6.7.8 x');
    expect(sortKey('udp      17 29 src=1.2.3.4 dst=5.6.7.8 x')).toBe('src=1.2.3.4 dst=5.6.7.8 x');
    // The awk pattern is [A-Z_]+ followed by a space: SYN_SENT2 keeps its state in the key.
    expect(sortKey('tcp      6 10 SYN_SENT2 src=9')).toBe('SYN_SENT2 src=9');
  });

  it('prints mark as unsigned', () => {
    const { ct } = makeConntrack();
    const p = nfp(udp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 }));
    ct.in(p);
    p.ct!.mark = 0xffffffff | 0;
    ct.confirm(p);
    expect(ct.dump()).toContain(' mark=4294967295 use=1');
  });

  it('formats `conntrack -S`', () => {
    const { ct } = makeConntrack();
    ct.in(nfp(icmpEcho('10.0.0.2', '10.0.0.1', 0, 7)));
    expect(formatStats(ct.stats)).toBe(
      'cpu=0   \tfound=0 invalid=1 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0',
    );
  });

  const ref = kernelRefDir();
  if (ref === null) console.warn('kernel-ref not found ($PODWIRE_KERNEL_REF or ../shared/kernel-ref): skipping the listing comparison');
  describe.skipIf(ref === null)('against kernel-ref listings', () => {
    it('an idle namespace lists exactly what the kernel listed', () => {
      let compared = 0;
      for (const scenario of readdirSync(ref!)) {
        let files: string[];
        try {
          files = readdirSync(join(ref!, scenario, 'conntrack')).filter((f) => f.endsWith('.conntrack-L.txt'));
        } catch {
          continue;
        }
        for (const f of files) {
          const text = readFileSync(join(ref!, scenario, 'conntrack', f), 'utf8');
          if (!text.includes(': 0 flow entries')) continue; // only the empty listings are reproducible without traffic
          const ns = f.replace('.conntrack-L.txt', '');
          const { ct } = makeConntrack();
          expect(ct.referenceListing(ns)).toBe(text);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(0);
    });
  });
});
