// Splits a worker's output stream into whole lines, holding at most `maxLineBytes` of one line in
// memory: a longer line is passed on in pieces of that size, each marked partial, so a worker that
// writes one 10 MB line (or never writes a newline) cannot make the primary grow without bound.
// Pure: bytes in, lines out; the caller owns the stream.

export interface SplitLine {
  text: string;
  /** True for every piece of an over-long line except its last. */
  partial: boolean;
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: SplitLine) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      this.take(chunk.subarray(start, end));
      if (newline === -1) return;
      this.emit(false);
      start = newline + 1;
    }
  }

  /** The stream ended: a last line without a newline (a crash mid-line) is passed on too. */
  end(): void {
    if (this.pendingBytes > 0) this.emit(false);
  }

  private take(bytes: Buffer): void {
    let rest = bytes;
    while (this.pendingBytes + rest.length > this.maxLineBytes) {
      const room = this.maxLineBytes - this.pendingBytes;
      const taken = room > 0 ? cutAtCharBoundary(rest, room) : 0;
      this.pending.push(rest.subarray(0, taken));
      this.pendingBytes += taken;
      this.emit(true);
      rest = rest.subarray(taken);
    }
    if (rest.length > 0) {
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
  }

  private emit(partial: boolean): void {
    let bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!partial && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    this.onLine({ text: bytes.toString('utf8'), partial });
  }
}

/** The largest length <= `limit` that does not cut a UTF-8 character in two (at least 1). */
export function cutAtCharBoundary(bytes: Buffer, limit: number): number {
  if (limit >= bytes.length) return bytes.length;
  let cut = Math.max(limit, 1);
  // 0b10xxxxxx is a continuation byte: the character started earlier.
  while (cut > 1 && ((bytes[cut] as number) & 0xc0) === 0x80) cut -= 1;
  return cut;
}
