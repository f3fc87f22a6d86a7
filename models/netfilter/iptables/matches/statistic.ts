/**
 * -m statistic (net/netfilter/xt_statistic.c, extensions/libxt_statistic.c).
 *
 * random: matches when a 31-bit draw is below round(p * 2^31), so
 * `--probability 0.50000000000` is exactly half; the draw comes from the
 * namespace's netfilter stream (NetfilterHost.random) and is taken only when
 * the rule is reached, as the kernel calls get_random_u32 there.
 *
 * nth: a counter per rule that starts at every-1-packet and matches when it
 * wraps to 0, so `--every 2 --packet 0` matches the 1st, 3rd, ... packet.
 * The counter is part of the loaded table: reloading the table restarts it,
 * as the kernel allocates a new one on each table replacement.
 */
import { fail } from '../errors.js';
import { optionTable, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { parseDecimal } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';

const MODE: OptionSpec = { names: ['mode'], args: 1, invert: false };
const PROBABILITY: OptionSpec = { names: ['probability'], args: 1, invert: true };
const EVERY: OptionSpec = { names: ['every'], args: 1, invert: true };
const PACKET: OptionSpec = { names: ['packet'], args: 1, invert: false };
const OPTS = optionTable([MODE, PROBABILITY, EVERY, PACKET]);

const TWO_31 = 0x80000000;

export class StatisticMatch implements MatchExt {
  readonly name = 'statistic';
  readonly opts = OPTS;
  mode: 'random' | 'nth' | null = null;
  /** lround(p * 2^31). */
  probability = 0;
  /** Stored as every - 1, as the kernel keeps it. */
  every = 0;
  packet = 0;
  invert = false;
  private gotProbability = false;
  private gotEvery = false;
  private gotPacket = false;

  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    const a = args[0]!;
    if (spec === MODE) {
      if (a !== 'random' && a !== 'nth') fail(ctx, a, `Bad mode \`${a}'`);
      this.mode = a;
    } else if (spec === PROBABILITY) {
      const p = /^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(a) ? Number(a) : NaN;
      if (!(p >= 0 && p <= 1)) fail(ctx, a, `--probability must be between 0 and 1 (got \`${a}')`);
      this.probability = Math.round(TWO_31 * p);
      this.invert = invert;
      this.gotProbability = true;
    } else if (spec === EVERY) {
      const n = parseDecimal(a, 1, 0xffffffff);
      if (n === null) fail(ctx, a, `cannot parse --every \`${a}'`);
      this.every = n - 1;
      this.invert = invert;
      this.gotEvery = true;
    } else {
      const n = parseDecimal(a, 0, 0xffffffff);
      if (n === null) fail(ctx, a, `cannot parse --packet \`${a}'`);
      this.packet = n;
      this.gotPacket = true;
    }
  }

  /** statistic_check. */
  finish(ctx: ParseCtx): void {
    if (this.mode === null) fail(ctx, '-m statistic', 'statistic: no mode specified');
    if (this.gotProbability && this.mode !== 'random') fail(ctx, '--probability', '--probability can only be used in random mode');
    if ((this.gotEvery || this.gotPacket) && this.mode !== 'nth') fail(ctx, this.gotEvery ? '--every' : '--packet', '--every and --packet can only be used in nth mode');
    if (this.mode === 'nth' && !this.gotEvery) fail(ctx, '-m statistic', 'statistic: --every is required in nth mode');
    // XTOPT "also" in libxt_statistic.c: iptables 1.8 insists on --packet with --every.
    if (this.gotEvery && !this.gotPacket) fail(ctx, '--every', 'statistic: option "--every" also requires "--packet".');
    if (this.gotPacket && this.packet > this.every) fail(ctx, '--packet', 'the --packet p must be 0 <= p <= n-1');
  }

  /** print_match in libxt_statistic.c; `p` is "--" for save. */
  private text(p: string): string {
    const inv = this.invert ? ' !' : '';
    if (this.mode === 'random') return ` ${p}mode random${inv} ${p}probability ${(this.probability / TWO_31).toFixed(11)}`;
    let s = ` ${p}mode nth${inv} ${p}every ${this.every + 1}`;
    if (this.packet !== 0 || p !== '') s += ` ${p}packet ${this.packet}`;
    return s;
  }

  save(): string {
    return this.text('--');
  }

  print(): string {
    return ` statistic${this.text('')}`;
  }

  check(): void {}

  compile(): Matcher {
    return this.mode === 'random'
      ? new RandomMatcher(this.probability, this.invert)
      : new NthMatcher(this.every, this.every - this.packet, this.invert);
  }
}

class RandomMatcher implements Matcher {
  constructor(
    private readonly probability: number,
    private readonly invert: boolean,
  ) {}

  match(x: XtPacket): boolean {
    // (get_random_u32() & 0x7FFFFFFF) < probability
    const draw = Math.floor(x.host.random() * TWO_31);
    return draw < this.probability !== this.invert;
  }
}

class NthMatcher implements Matcher {
  constructor(
    private readonly every: number,
    /** info->master->count, starting at u.nth.count = every - packet. */
    private count: number,
    private readonly invert: boolean,
  ) {}

  match(): boolean {
    this.count = this.count === this.every ? 0 : this.count + 1;
    return this.count === 0 !== this.invert;
  }
}
