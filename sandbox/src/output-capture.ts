/** Keeps the first `limit` bytes of a stream and says when more arrived. */
export class OutputCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** Every byte the program wrote, kept or not. */
  total = 0;

  constructor(
    private readonly limit: number,
    /** Called once, when the stream first exceeds the limit. */
    private readonly onOverflow: () => void,
  ) {}

  get truncated(): boolean {
    return this.total > this.limit;
  }

  push(chunk: Buffer): void {
    const wasOver = this.truncated;
    this.total += chunk.length;
    const room = this.limit - this.kept;
    if (room > 0) {
      const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(piece);
      this.kept += piece.length;
    }
    if (!wasOver && this.truncated) this.onOverflow();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
