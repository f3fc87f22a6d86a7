/**
 * -m icmp --icmp-type (net/ipv4/netfilter/ip_tables.c icmp_match,
 * extensions/libxt_icmp.c). A type name, or "type[/code]"; type 255 ("any")
 * matches every ICMP message.
 */
import { fail } from '../errors.js';
import { optionTable, requireProto, type CheckCtx, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { parseDecimal } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';
import { IPPROTO_ICMP } from '../../../wire/ipv4.js';
import { ICMP_HEADER_LEN } from '../../../wire/icmp.js';

/** xtables' icmp_codes: name, type, code range. */
const ICMP_CODES: readonly [string, number, number, number][] = [
  ['any', 0xff, 0, 0xff],
  ['echo-reply', 0, 0, 0xff],
  ['pong', 0, 0, 0xff],
  ['destination-unreachable', 3, 0, 0xff],
  ['network-unreachable', 3, 0, 0],
  ['host-unreachable', 3, 1, 1],
  ['protocol-unreachable', 3, 2, 2],
  ['port-unreachable', 3, 3, 3],
  ['fragmentation-needed', 3, 4, 4],
  ['source-route-failed', 3, 5, 5],
  ['network-unknown', 3, 6, 6],
  ['host-unknown', 3, 7, 7],
  ['network-prohibited', 3, 9, 9],
  ['host-prohibited', 3, 10, 10],
  ['TOS-network-unreachable', 3, 11, 11],
  ['TOS-host-unreachable', 3, 12, 12],
  ['communication-prohibited', 3, 13, 13],
  ['host-precedence-violation', 3, 14, 14],
  ['precedence-cutoff', 3, 15, 15],
  ['source-quench', 4, 0, 0xff],
  ['redirect', 5, 0, 0xff],
  ['network-redirect', 5, 0, 0],
  ['host-redirect', 5, 1, 1],
  ['TOS-network-redirect', 5, 2, 2],
  ['TOS-host-redirect', 5, 3, 3],
  ['echo-request', 8, 0, 0xff],
  ['ping', 8, 0, 0xff],
  ['router-advertisement', 9, 0, 0xff],
  ['router-solicitation', 10, 0, 0xff],
  ['time-exceeded', 11, 0, 0xff],
  ['ttl-exceeded', 11, 0, 0xff],
  ['ttl-zero-during-transit', 11, 0, 0],
  ['ttl-zero-during-reassembly', 11, 1, 1],
  ['parameter-problem', 12, 0, 0xff],
  ['ip-header-bad', 12, 0, 0],
  ['required-option-missing', 12, 1, 1],
  ['timestamp-request', 13, 0, 0xff],
  ['timestamp-reply', 14, 0, 0xff],
  ['address-mask-request', 17, 0, 0xff],
  ['address-mask-reply', 18, 0, 0xff],
];

const ICMP_TYPE: OptionSpec = { names: ['icmp-type'], args: 1, invert: true };
const OPTS = optionTable([ICMP_TYPE]);

export class IcmpMatch implements MatchExt, Matcher {
  readonly name = 'icmp';
  readonly opts = OPTS;
  type = 0xff;
  codeMin = 0;
  codeMax = 0xff;
  invert = false;
  private given = false;

  parse(_spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    const s = args[0]!;
    this.invert = invert;
    this.given = true;
    // parse_icmp: names match case-insensitively, and an unambiguous prefix is enough.
    const lower = s.toLowerCase();
    const exact = ICMP_CODES.find(([n]) => n.toLowerCase() === lower);
    const hits = exact !== undefined ? [exact] : ICMP_CODES.filter(([n]) => n.toLowerCase().startsWith(lower));
    if (hits.length > 1 && hits.some((h) => h[1] !== hits[0]![1] || h[2] !== hits[0]![2])) {
      fail(ctx, s, `Ambiguous ICMP type \`${s}': \`${hits[0]![0]}' or \`${hits[1]![0]}'?`);
    }
    if (hits.length > 0 && !/^\d/.test(s)) {
      [, this.type, this.codeMin, this.codeMax] = hits[0]!;
      return;
    }
    const [typeText, codeText] = s.split('/', 2) as [string, string | undefined];
    const type = parseDecimal(typeText, 0, 255);
    if (type === null) fail(ctx, s, `Invalid ICMP type \`${s}'`);
    this.type = type;
    if (codeText === undefined) {
      this.codeMin = 0;
      this.codeMax = 0xff;
    } else {
      const code = parseDecimal(codeText, 0, 255);
      if (code === null) fail(ctx, s, `Invalid ICMP code \`${codeText}'`);
      this.codeMin = this.codeMax = code;
    }
  }

  finish(ctx: ParseCtx): void {
    if (!this.given) fail(ctx, '-m icmp', 'icmp match: `--icmp-type\' is required');
  }

  save(): string {
    const inv = this.invert ? ' !' : '';
    if (this.type === 0xff) return `${inv} --icmp-type any`;
    const code = this.codeMin !== 0 || this.codeMax !== 0xff ? `/${this.codeMin}` : '';
    return `${inv} --icmp-type ${this.type}${code}`;
  }

  print(): string {
    let s = ` icmp${this.invert ? ' !' : ''}type ${this.type}`;
    if (this.codeMin === this.codeMax) s += ` code ${this.codeMin}`;
    else if (this.codeMin !== 0 || this.codeMax !== 0xff) s += ` codes ${this.codeMin}-${this.codeMax}`;
    return s;
  }

  check(c: CheckCtx): void {
    requireProto(c, '-m', 'icmp', IPPROTO_ICMP);
  }

  compile(): Matcher {
    return this;
  }

  /** icmp_match + icmp_type_code_match. */
  match(x: XtPacket): boolean {
    if (x.fragoff !== 0) return false;
    if (x.l4Avail() < ICMP_HEADER_LEN) {
      x.hotdrop = true;
      return false;
    }
    const type = x.buf[x.thoff]!;
    const code = x.buf[x.thoff + 1]!;
    const hit = this.type === 0xff || (type === this.type && code >= this.codeMin && code <= this.codeMax);
    return hit !== this.invert;
  }
}
