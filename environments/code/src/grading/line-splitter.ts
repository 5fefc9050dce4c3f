/** Splits a byte stream into lines; a line longer than `maxBytes` is reported instead of kept. */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowed = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      this.add(chunk.subarray(start, end));
      if (this.overflowed) return;
      const line = Buffer.concat(this.pending).toString('utf8');
      this.pending = [];
      this.pendingBytes = 0;
      this.onLine(line);
      start = end + 1;
    }
    this.add(chunk.subarray(start));
  }

  private add(piece: Buffer): void {
    if (this.overflowed || piece.length === 0) return;
    this.pendingBytes += piece.length;
    if (this.pendingBytes > this.maxBytes) {
      this.overflowed = true;
      this.pending = [];
      this.onOverflow();
      return;
    }
    this.pending.push(piece);
  }
}
