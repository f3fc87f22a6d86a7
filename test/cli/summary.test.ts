/**
 * The drop summary `podwire run` prints: every namespace while there are few,
 * and for a large cluster the totals by reason and the namespaces with the
 * most drops, so thousands of switches do not print thousands of lines.
 */
import { describe, expect, it } from 'vitest';
import { DROP_LINES, formatSummary } from '../../cli/summary.js';
import type { Results } from '../../scenarios/run.js';

const results = (drops: Results['drops']) => ({ flows: [], drops }) as unknown as Results;

describe('the drop summary', () => {
  it('lists every namespace while there are few', () => {
    const text = formatSummary(results({ n1: { QDISC_DROP: 2 }, n2: { LINK_LOSS: 1, QDISC_DROP: 3 } }));
    expect(text.split('\n').slice(-3)).toEqual(['drops:', '  n1: QDISC_DROP=2', '  n2: LINK_LOSS=1 QDISC_DROP=3']);
  });

  it('gives the totals by reason and the namespaces with the most drops when there are many', () => {
    const drops: Results['drops'] = {};
    for (let i = 1; i <= 40; i++) drops[`underlay-rack-${i}`] = { QDISC_DROP: i === 7 ? 500 : 91 };
    drops['node-3'] = { LINK_LOSS: 4, QDISC_DROP: 200 };
    const lines = formatSummary(results(drops)).split('\n');
    const at = lines.findIndex((l) => l.startsWith('drops:'));
    expect(lines[at]).toBe(`drops: ${39 * 91 + 500 + 204} in 41 namespaces (LINK_LOSS=4 QDISC_DROP=${39 * 91 + 500 + 200}); the ${DROP_LINES} with the most:`);
    expect(lines.slice(at + 1, at + 4)).toEqual(['  underlay-rack-7: QDISC_DROP=500', '  node-3: LINK_LOSS=4 QDISC_DROP=200', '  underlay-rack-1: QDISC_DROP=91']);
    expect(lines.slice(at + 1, -1)).toHaveLength(DROP_LINES);
    expect(lines.at(-1)).toBe(`  (${41 - DROP_LINES} more namespaces in results.json)`);
  });
});
