/**
 * Splits one iptables-restore line into arguments the way iptables does
 * (add_param_to_argv in iptables/xshared.c):
 *
 * - blanks (space, tab) separate arguments; runs of blanks count once;
 * - a double quote opens a quoted stretch in which blanks are literal and a
 *   backslash escapes the next character (`"a \"b\" \\ c"` is `a "b" \ c`);
 * - the closing quote ends the argument, so `"ab"c` is two arguments, `ab` and
 *   `c`, and `""` is one empty argument;
 * - single quotes and backslashes outside double quotes are ordinary
 *   characters (`'a b'` is the two arguments `'a` and `b'`).
 *
 * Each argument remembers whether it was quoted: a quoted `"!"` is a value,
 * not the negation operator (argvattr in xshared.c). Unlike iptables, which
 * silently closes an unterminated quote at the end of the line, podwire
 * refuses it: a real iptables-save never writes one.
 */
import { fail, type SourcePos } from './errors.js';

export interface Token {
  text: string;
  quoted: boolean;
}

export function tokenizeLine(line: string, pos: SourcePos): Token[] {
  const out: Token[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  let quoteOpen = false;
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoteOpen) {
      if (escaped) {
        cur += c;
        escaped = false;
      } else if (c === '\\') {
        escaped = true;
      } else if (c === '"') {
        quoteOpen = false;
        out.push({ text: cur, quoted: true });
        cur = '';
        inToken = false;
        quoted = false;
      } else {
        cur += c;
      }
      continue;
    }
    if (c === '"') {
      quoteOpen = true;
      quoted = true;
      inToken = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inToken) {
        out.push({ text: cur, quoted });
        cur = '';
        inToken = false;
        quoted = false;
      }
      continue;
    }
    cur += c;
    inToken = true;
  }
  if (quoteOpen) fail(pos, cur, `unterminated quote in argument "${cur}`);
  if (inToken) out.push({ text: cur, quoted });
  return out;
}
