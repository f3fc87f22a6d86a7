/**
 * Message boundaries over a TCP byte stream, for request/response
 * applications: TCP delivers byte counts in whatever pieces the segments
 * make; the framer is told the sizes of the messages it expects, in order,
 * and reports each one when its last byte has arrived.
 *
 *   const f = new MessageFramer((size) => reply(...));
 *   f.expect(100);                               // a 100-byte request
 *   handlers.onData = (_c, n) => f.push(n);
 */
export class MessageFramer {
  private sizes: number[] = [];
  private head = 0;
  /** Bytes of the current (first incomplete) message received so far. */
  private have = 0;
  /** Bytes that arrived beyond every expected message (kept for later expect calls). */
  private spare = 0;
  messages = 0;

  constructor(private readonly onMessage: (size: number) => void) {}

  /** The next message will be `size` bytes. */
  expect(size: number): void {
    this.sizes.push(size);
    if (this.spare > 0) {
      const n = this.spare;
      this.spare = 0;
      this.push(n);
    }
  }

  /** `n` more in-order bytes arrived. */
  push(n: number): void {
    while (n > 0) {
      if (this.head === this.sizes.length) {
        this.spare += n;
        return;
      }
      const need = this.sizes[this.head]! - this.have;
      if (n < need) {
        this.have += n;
        return;
      }
      n -= need;
      const size = this.sizes[this.head++]!;
      this.have = 0;
      if (this.head > 1024 && this.head * 2 > this.sizes.length) {
        this.sizes = this.sizes.slice(this.head);
        this.head = 0;
      }
      this.messages++;
      this.onMessage(size);
    }
  }

  /** Messages expected and not complete yet. */
  get pending(): number {
    return this.sizes.length - this.head;
  }
}
