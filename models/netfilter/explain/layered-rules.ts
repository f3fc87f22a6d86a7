/**
 * The ruleset a trace runs against: iptables-restore of each layer in turn,
 * the first replacing the (empty) tables and the rest with --noflush, the way
 * kube-proxy's `iptables-restore --noflush` lands on top of the chains the
 * node already has (`--base` then `--rules`).
 *
 * Each explored branch must see the rules as a first packet would. Most
 * matches keep no state between packets, so branches share one loaded
 * ruleset; `-m statistic --mode nth` counters and `-m recent` lists do, so
 * with those the layers are loaded again for every branch (a fresh load
 * restarts them, as a kernel table replacement does).
 */
import { IptablesRuleset } from '../iptables/ruleset.js';

export interface RulesLayer {
  text: string;
  /** Named in errors ("FILE:LINE: reason"). */
  file: string;
}

export class LayeredRules {
  private readonly shared: IptablesRuleset;
  private readonly stateful: boolean;
  private sharedUsed = false;

  /** Loads every layer once; a bad rule throws its IptablesError (file:line: reason). */
  constructor(private readonly layers: readonly RulesLayer[]) {
    this.shared = this.load();
    this.stateful = /(^| )(-m recent|--mode nth)( |$)/m.test(this.shared.save());
  }

  private load(): IptablesRuleset {
    const r = new IptablesRuleset();
    this.layers.forEach((l, i) => r.restore(l.text, l.file, { noflush: i > 0 }));
    return r;
  }

  /** The ruleset as a connection's first packet finds it. */
  fresh(): IptablesRuleset {
    if (!this.stateful) return this.shared;
    if (!this.sharedUsed) {
      this.sharedUsed = true;
      return this.shared;
    }
    return this.load();
  }
}
