/**
 * The match modules podwire models, by the name given to -m. Anything else
 * is refused at parse time, naming the module ("Couldn't load match").
 */
import type { MatchExt } from '../extension.js';
import { AddrtypeMatch } from './addrtype.js';
import { CommentMatch } from './comment.js';
import { ConntrackMatch } from './conntrack.js';
import { IcmpMatch } from './icmp.js';
import { ConnmarkMatch, MarkMatch } from './mark.js';
import { MultiportMatch } from './multiport.js';
import { NfacctMatch } from './nfacct.js';
import { PhysdevMatch } from './physdev.js';
import { RecentMatch } from './recent.js';
import { SetMatch } from './set.js';
import { StatisticMatch } from './statistic.js';
import { SctpMatch, TcpMatch, UdpMatch } from './tcpudp.js';

const FACTORIES: Record<string, () => MatchExt> = {
  addrtype: () => new AddrtypeMatch(),
  comment: () => new CommentMatch(),
  connmark: () => new ConnmarkMatch(),
  conntrack: () => new ConntrackMatch('conntrack'),
  icmp: () => new IcmpMatch(),
  mark: () => new MarkMatch(),
  multiport: () => new MultiportMatch(),
  nfacct: () => new NfacctMatch(),
  physdev: () => new PhysdevMatch(),
  recent: () => new RecentMatch(),
  sctp: () => new SctpMatch(),
  set: () => new SetMatch(),
  state: () => new ConntrackMatch('state'),
  statistic: () => new StatisticMatch(),
  tcp: () => new TcpMatch(),
  udp: () => new UdpMatch(),
};

/** A fresh instance of the named match, or undefined if podwire does not model it. */
export function createMatch(name: string): MatchExt | undefined {
  return Object.hasOwn(FACTORIES, name) ? FACTORIES[name]!() : undefined;
}

export const MATCH_NAMES: readonly string[] = Object.keys(FACTORIES);
