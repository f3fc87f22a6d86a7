/**
 * Extended accounting objects (nfnetlink_acct, the `nfacct` tool): named
 * packet and byte counters that `-m nfacct --nfacct-name NAME` rules add to.
 * An object must exist before a rule can use it and cannot be deleted while
 * a rule does (nfnl_acct_find_get / EBUSY). Quotas are not modelled: every
 * object behaves as one without a quota, so the match always matches.
 */
export class NfacctObject {
  packets = 0;
  bytes = 0;
  refs = 0;
  constructor(readonly name: string) {}
}

export class NfacctRegistry {
  private readonly objects = new Map<string, NfacctObject>();

  /** `nfacct add NAME`. */
  add(name: string): NfacctObject {
    if (this.objects.has(name)) throw new Error(`nfacct: object ${name} already exists (EBUSY)`);
    const o = new NfacctObject(name);
    this.objects.set(name, o);
    return o;
  }

  get(name: string): NfacctObject | undefined {
    return this.objects.get(name);
  }

  /** `nfacct delete NAME`: refused while a rule references it. */
  delete(name: string): void {
    const o = this.objects.get(name);
    if (o === undefined) throw new Error(`nfacct: no object ${name} (ENOENT)`);
    if (o.refs > 0) throw new Error(`nfacct: object ${name} is in use by ${o.refs} rule(s) (EBUSY)`);
    this.objects.delete(name);
  }

  /** `nfacct list`, in creation order: `{ pkts = 00000000000000000001, bytes = 00000000000000000084 } = NAME;` */
  list(): string {
    let out = '';
    for (const o of this.objects.values()) {
      out += `{ pkts = ${String(o.packets).padStart(20, '0')}, bytes = ${String(o.bytes).padStart(20, '0')} } = ${o.name};\n`;
    }
    return out;
  }
}
