/**
 * The one error the nft model throws for bad input: text `nft -f` would
 * refuse, or syntax beyond the subset modelled. It names the file, the line
 * and the offending token.
 */
export class NftError extends Error {
  constructor(
    readonly file: string,
    /** 1-based line; 0 when not tied to a line. */
    readonly line: number,
    readonly token: string,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}${token === '' ? '' : ` (at '${token}')`}`);
    this.name = 'NftError';
  }
}
