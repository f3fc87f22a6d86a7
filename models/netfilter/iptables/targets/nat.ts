/**
 * The NAT targets (net/netfilter/xt_nat.c, xt_MASQUERADE.c, xt_REDIRECT.c,
 * nf_nat_masquerade.c, nf_nat_redirect.c; extensions/libxt_NAT.c,
 * libxt_MASQUERADE.c, libxt_REDIRECT.c). Each resolves a NatRange and asks
 * the host to bind the connection (nf_nat_setup_info), then answers
 * NF_ACCEPT, which ends the nat table for this packet.
 *
 * NatRange conventions: minAddr = maxAddr = 0 means "address unchanged"
 * (NF_NAT_RANGE_MAP_IPS unset, e.g. `--to-destination :8080`); ports 0-0
 * mean "port unchanged unless it clashes". The range object a target passes
 * is reused for the next packet: setupNat must copy what it keeps.
 */
import { fail } from '../errors.js';
import { hookBit, optionTable, requireHooks, requireTable, type CheckCtx, type OptionSpec, type ParseCtx, type TargetExt } from '../extension.js';
import type { TargetFn, XtPacket } from '../xt.js';
import { NfHook, NfVerdict } from '../../hooks.js';
import type { NatRange } from '../../types.js';
import { formatIpv4, inPrefix } from '../../../wire/addr.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../wire/ipv4.js';
import { parseDottedQuad } from '../values.js';
import { IPPROTO_SCTP } from '../matches/tcpudp.js';
import type { IfAddr } from '../../../devices/net-device.js';

const IPPROTO_DCCP = 33;
const PORT_PROTOS = [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_DCCP];
const LOOPBACK = 0x7f000001;

function emptyRange(): NatRange {
  return { minAddr: 0, maxAddr: 0, minPort: 0, maxPort: 0, random: false, randomFully: false, persistent: false };
}

function portOk(ctx: ParseCtx, token: string): void {
  if (!PORT_PROTOS.includes(ctx.proto)) fail(ctx, token, `Need TCP, UDP, SCTP or DCCP with port specification (${token})`);
}

/** "port[-port]" as parse_ports in libxt_MASQUERADE.c / libxt_REDIRECT.c. */
function parsePorts(s: string, ctx: ParseCtx, r: NatRange): void {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = m === null ? NaN : Number(m[1]);
  const hi = m === null ? NaN : m[2] === undefined ? lo : Number(m[2]);
  if (!(lo >= 1 && lo <= 65535)) fail(ctx, s, `Port \`${s}' not valid`);
  if (!(hi >= 1 && hi <= 65535)) fail(ctx, s, `Port \`${s}' not valid`);
  if (hi < lo) fail(ctx, s, `Port range \`${s}' funky`);
  r.minPort = lo;
  r.maxPort = hi;
}

/** parse_to in libxt_NAT.c: "[ip[-ip]][:port[-port]]". */
function parseTo(s: string, ctx: ParseCtx, r: NatRange): void {
  let addrPart = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    portOk(ctx, s);
    const ports = s.slice(colon + 1);
    if (ports.includes(':')) fail(ctx, s, `Invalid port:port syntax - use dash (\`${s}')`);
    parsePorts(ports, ctx, r);
    addrPart = s.slice(0, colon);
    if (addrPart === '') return;
  }
  const dash = addrPart.indexOf('-');
  const lo = parseDottedQuad(dash < 0 ? addrPart : addrPart.slice(0, dash));
  const hi = dash < 0 ? lo : parseDottedQuad(addrPart.slice(dash + 1));
  if (lo === null || hi === null) fail(ctx, s, `Bad IP address "${addrPart}"`);
  if (hi < lo) fail(ctx, s, `Bad IP address range "${addrPart}"`);
  r.minAddr = lo;
  r.maxAddr = hi;
}

/** print_range in libxt_NAT.c. */
function rangeText(r: NatRange): string {
  let s = '';
  if (r.minAddr !== 0 || r.maxAddr !== 0) {
    s += formatIpv4(r.minAddr);
    if (r.maxAddr !== r.minAddr) s += `-${formatIpv4(r.maxAddr)}`;
  }
  if (r.minPort !== 0) {
    s += `:${r.minPort}`;
    if (r.maxPort !== r.minPort) s += `-${r.maxPort}`;
  }
  return s;
}

function portsText(r: NatRange): string {
  return r.minPort === r.maxPort ? `${r.minPort}` : `${r.minPort}-${r.maxPort}`;
}

const RANDOM: OptionSpec = { names: ['random'], args: 0, invert: false };
const RANDOM_FULLY: OptionSpec = { names: ['random-fully'], args: 0, invert: false };
const PERSISTENT: OptionSpec = { names: ['persistent'], args: 0, invert: false };
const TO_DESTINATION: OptionSpec = { names: ['to-destination'], args: 1, invert: false };
const TO_SOURCE: OptionSpec = { names: ['to-source'], args: 1, invert: false };
const TO_PORTS: OptionSpec = { names: ['to-ports'], args: 1, invert: false };
const DNAT_OPTS = optionTable([TO_DESTINATION, RANDOM, PERSISTENT]);
const SNAT_OPTS = optionTable([TO_SOURCE, RANDOM, RANDOM_FULLY, PERSISTENT]);
const MASQUERADE_OPTS = optionTable([TO_PORTS, RANDOM, RANDOM_FULLY]);
const REDIRECT_OPTS = optionTable([TO_PORTS, RANDOM]);

abstract class NatTarget implements TargetExt, TargetFn {
  abstract readonly name: string;
  abstract readonly opts: ReturnType<typeof optionTable>;
  get kernelName(): string {
    return this.name;
  }
  protected abstract readonly hooks: number;
  readonly range: NatRange = emptyRange();
  protected given = false;

  parse(spec: OptionSpec, args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    if (spec === RANDOM) this.range.random = true;
    else if (spec === RANDOM_FULLY) this.range.randomFully = true;
    else if (spec === PERSISTENT) this.range.persistent = true;
    else {
      this.given = true;
      if (spec === TO_PORTS) {
        portOk(ctx, args[0]!);
        parsePorts(args[0]!, ctx, this.range);
      } else parseTo(args[0]!, ctx, this.range);
    }
  }

  finish(_ctx: ParseCtx): void {}

  abstract save(): string;
  abstract print(): string;

  protected flagsSave(withFully: boolean, withPersistent: boolean): string {
    let s = '';
    if (this.range.random) s += ' --random';
    if (withFully && this.range.randomFully) s += ' --random-fully';
    if (withPersistent && this.range.persistent) s += ' --persistent';
    return s;
  }

  protected flagsPrint(withFully: boolean, withPersistent: boolean): string {
    return this.flagsSave(withFully, withPersistent).replaceAll(' --', ' ');
  }

  check(c: CheckCtx): void {
    requireTable(c, '-j', this.name, 'nat');
    requireHooks(c, '-j', this.name, this.hooks);
  }

  compile(): TargetFn {
    return this;
  }

  abstract run(x: XtPacket): number;
}

export class DnatTarget extends NatTarget {
  readonly name = 'DNAT';
  readonly opts = DNAT_OPTS;
  protected readonly hooks = hookBit(NfHook.PRE_ROUTING) | hookBit(NfHook.LOCAL_OUT);

  override finish(ctx: ParseCtx): void {
    if (!this.given) fail(ctx, '-j DNAT', 'DNAT: you must specify --to-destination');
  }

  save(): string {
    return ` --to-destination ${rangeText(this.range)}${this.flagsSave(false, true)}`;
  }

  print(): string {
    return ` to:${rangeText(this.range)}${this.flagsPrint(false, true)}`;
  }

  /** xt_dnat_target_v2. */
  run(x: XtPacket): number {
    x.host.setupNat(x.p, 'dst', this.range);
    return NfVerdict.ACCEPT;
  }
}

export class SnatTarget extends NatTarget {
  readonly name = 'SNAT';
  readonly opts = SNAT_OPTS;
  protected readonly hooks = hookBit(NfHook.POST_ROUTING) | hookBit(NfHook.LOCAL_IN);

  override finish(ctx: ParseCtx): void {
    if (!this.given) fail(ctx, '-j SNAT', 'SNAT: you must specify --to-source');
  }

  save(): string {
    return ` --to-source ${rangeText(this.range)}${this.flagsSave(true, true)}`;
  }

  print(): string {
    return ` to:${rangeText(this.range)}${this.flagsPrint(true, true)}`;
  }

  /** xt_snat_target_v2. */
  run(x: XtPacket): number {
    x.host.setupNat(x.p, 'src', this.range);
    return NfVerdict.ACCEPT;
  }
}

/**
 * inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE) over the device's
 * addresses: the first one on the same subnet as `dst`, else the first
 * usable one; host-scope (127/8) addresses never qualify. podwire passes
 * the packet's destination where the kernel passes the route's next hop.
 */
export function selectMasqueradeSource(addrs: readonly IfAddr[], dst: number): number {
  let first = 0;
  for (const a of addrs) {
    if (a.addr >>> 24 === 127) continue;
    if (inPrefix(dst, a.addr, a.prefixLen)) return a.addr;
    if (first === 0) first = a.addr;
  }
  return first;
}

export class MasqueradeTarget extends NatTarget {
  readonly name = 'MASQUERADE';
  readonly opts = MASQUERADE_OPTS;
  protected readonly hooks = hookBit(NfHook.POST_ROUTING);
  private readonly scratch: NatRange = emptyRange();

  save(): string {
    return `${this.range.minPort !== 0 ? ` --to-ports ${portsText(this.range)}` : ''}${this.flagsSave(true, false)}`;
  }

  print(): string {
    return `${this.range.minPort !== 0 ? ` masq ports: ${portsText(this.range)}` : ''}${this.flagsPrint(true, false)}`;
  }

  override compile(): TargetFn {
    Object.assign(this.scratch, this.range);
    return this;
  }

  /** masquerade_tg -> nf_nat_masquerade_ipv4. */
  run(x: XtPacket): number {
    const ct = x.p.ct;
    // "Source address is 0.0.0.0 - locally generated packet that is probably not supposed to be masqueraded."
    if (ct !== null && ct.tuple[0].src === 0) return NfVerdict.ACCEPT;
    const out = x.p.outDev;
    const newsrc = out === null ? 0 : selectMasqueradeSource(out.addrs, x.dst);
    if (newsrc === 0) return NfVerdict.DROP; // "%s ate my IP address"
    const r = this.scratch;
    r.minAddr = r.maxAddr = newsrc;
    x.host.setupNat(x.p, 'src', r);
    return NfVerdict.ACCEPT;
  }
}

export class RedirectTarget extends NatTarget {
  readonly name = 'REDIRECT';
  readonly opts = REDIRECT_OPTS;
  protected readonly hooks = hookBit(NfHook.PRE_ROUTING) | hookBit(NfHook.LOCAL_OUT);
  private readonly scratch: NatRange = emptyRange();

  save(): string {
    return `${this.range.minPort !== 0 ? ` --to-ports ${portsText(this.range)}` : ''}${this.flagsSave(false, false)}`;
  }

  print(): string {
    return `${this.range.minPort !== 0 ? ` redir ports ${portsText(this.range)}` : ''}${this.flagsPrint(false, false)}`;
  }

  override compile(): TargetFn {
    Object.assign(this.scratch, this.range);
    return this;
  }

  /** redirect_tg4 -> nf_nat_redirect_ipv4: 127.0.0.1 from OUTPUT, else the in device's primary address. */
  run(x: XtPacket): number {
    let newdst = 0;
    if (x.hook === NfHook.LOCAL_OUT) newdst = LOOPBACK;
    else {
      const dev = x.p.inDev;
      if (dev !== null && dev.addrs.length > 0) newdst = dev.addrs[0]!.addr;
      if (newdst === 0) return NfVerdict.DROP;
    }
    const r = this.scratch;
    r.minAddr = r.maxAddr = newdst;
    x.host.setupNat(x.p, 'dst', r);
    return NfVerdict.ACCEPT;
  }
}
