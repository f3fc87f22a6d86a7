/**
 * The one error the rule engine throws for bad input: iptables-restore text
 * that iptables (userspace) or ip_tables (kernel checkentry) would refuse.
 * It names the file, the line and the offending token, and the message keeps
 * iptables' own wording where iptables has one (`unknown option "--foo"`,
 * `Couldn't load target `FOO'`, `DNAT target: only valid in nat table, not
 * filter`).
 */
export class IptablesError extends Error {
  constructor(
    readonly file: string,
    /** 1-based line of the input; 0 when the error is not tied to a line. */
    readonly line: number,
    /** The token (option, value, chain or target name) the error is about. */
    readonly token: string,
    /** The reason alone, without the location. */
    readonly reason: string,
  ) {
    const mentions = token === '' || reason.includes(token);
    super(`${file}:${line}: ${reason}${mentions ? '' : ` (at \`${token}')`}`);
    this.name = 'IptablesError';
  }
}

/** Where a parse is: enough to build an IptablesError. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
}

export function fail(pos: SourcePos, token: string, reason: string): never {
  throw new IptablesError(pos.file, pos.line, token, reason);
}
