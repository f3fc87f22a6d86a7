/**
 * `s` as a string of its own. V8 makes a substring of 13 or more characters
 * (SlicedString::kMinLength: from `split`, `slice`, a token) a view of its
 * parent, which then lives as long as the view: a chain name or a parsed rule
 * kept from one line of a ruleset kept the whole text, ~8.7 MB for each
 * node's kube-proxy sync of 10,000 Services. Concatenating and slicing off
 * the added character copies the characters; shorter strings are copies
 * already.
 */
export function unsliced(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}
