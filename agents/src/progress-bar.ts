/**
 * A one-line progress bar on stderr, redrawn in place. It draws only on a terminal, so logs and
 * CI output stay clean.
 */
export class ProgressBar {
  private done = 0;
  private failed = 0;
  private passed = 0;
  private lastDraw = 0;
  private readonly started = performance.now();

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Whether a bar should be drawn by default: only when stderr is a terminal. */
  static wanted(stream: NodeJS.WriteStream = process.stderr): boolean {
    return stream.isTTY === true;
  }

  tick(outcome: { failed: boolean; passed: boolean }): void {
    this.done++;
    if (outcome.failed) this.failed++;
    if (outcome.passed) this.passed++;
    const now = performance.now();
    if (now - this.lastDraw > 100 || this.done === this.total) {
      this.lastDraw = now;
      this.draw();
    }
  }

  finish(): void {
    this.draw();
    this.stream.write('\n');
  }

  private draw(): void {
    const width = 24;
    const filled = this.total === 0 ? width : Math.round((this.done / this.total) * width);
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    this.stream.write(
      `\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.done}/${this.total} episodes` +
        `  passed ${this.passed}  failed ${this.failed}  ${rate.toFixed(1)} ep/s `,
    );
  }
}
