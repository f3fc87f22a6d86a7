/**
 * Tokens of the nft(8) language as podwire reads it: words (names,
 * addresses, numbers, `addr:port`), quoted strings, punctuation and line
 * ends (a line end ends a command). `#` starts a comment to the end of line.
 */
import { NftError } from './errors.js';
import { unsliced } from '../unsliced.js';

export const enum Tok {
  WORD,
  STRING,
  PUNCT,
  EOL,
}

export interface Token {
  kind: Tok;
  text: string;
  line: number;
}

const PUNCT = new Set(['{', '}', ';', ',', '@', '&', '|', '^', '$']);
/** Characters of a word: nft identifiers, addresses, prefixes, ranges, `ip:port`, chain names with / and . (by char code: a regex test per character was a fifth of loading kube-proxy's rules). */
const WORD = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:-') WORD[c.charCodeAt(0)] = 1;

function isWordChar(code: number): boolean {
  return code < 128 && WORD[code] === 1;
}

/**
 * The tokens of a text a line at a time (`nextLine`), so that a parser keeps
 * only the tokens of the command at hand: kube-proxy's sync for 10,000
 * Services is ~950,000 tokens a node, which, held all at once, the garbage
 * collector copied and promoted before they died.
 */
export class Tokenizer {
  private i = 0;
  private line = 1;
  private ended = false;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  /**
   * Appends the tokens up to and including the next line end to `out`; the
   * text's last line ends with an EOL token of its own. False, appending
   * nothing, once that is done.
   */
  nextLine(out: Token[]): boolean {
    if (this.ended) return false;
    const text = this.text;
    const n = text.length;
    let i = this.i;
    let line = this.line;
    while (i < n) {
      const c = text[i]!;
      if (c === '\n') {
        out.push({ kind: Tok.EOL, text: '\n', line });
        this.i = i + 1;
        this.line = line + 1;
        return true;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        i++;
      } else if (c === '\\' && text[i + 1] === '\n') {
        // A continued line.
        line++;
        i += 2;
      } else if (c === '#') {
        while (i < n && text[i] !== '\n') i++;
      } else if (c === '"') {
        const end = text.indexOf('"', i + 1);
        const nl = text.indexOf('\n', i + 1);
        if (end < 0 || (nl >= 0 && nl < end)) throw new NftError(this.file, line, text.slice(i, nl < 0 ? n : nl), 'unterminated string');
        // Tokens are kept (names, comments): not views of the whole text (unsliced.ts).
        out.push({ kind: Tok.STRING, text: unsliced(text.slice(i + 1, end)), line });
        i = end + 1;
      } else if ((c === '!' || c === '=') && text[i + 1] === '=') {
        out.push({ kind: Tok.PUNCT, text: c + '=', line });
        i += 2;
      } else if (c === '=') {
        out.push({ kind: Tok.PUNCT, text: '=', line });
        i++;
      } else if (PUNCT.has(c)) {
        out.push({ kind: Tok.PUNCT, text: c, line });
        i++;
      } else if (isWordChar(text.charCodeAt(i))) {
        let j = i + 1;
        while (j < n && isWordChar(text.charCodeAt(j))) j++;
        out.push({ kind: Tok.WORD, text: unsliced(text.slice(i, j)), line });
        i = j;
      } else {
        throw new NftError(this.file, line, c, `syntax error, unexpected character`);
      }
    }
    out.push({ kind: Tok.EOL, text: '\n', line });
    this.i = n;
    this.line = line;
    this.ended = true;
    return true;
  }
}
