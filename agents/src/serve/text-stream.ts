import type { Tokenizer } from '../tokenizer.ts';

/** OpenAI leaves a matched stop string out of the text: the text up to the first one. */
export function visibleText(text: string, stops: readonly string[]): string {
  let cut = text.length;
  for (const s of stops) {
    const at = s ? text.indexOf(s) : -1;
    if (at >= 0) cut = Math.min(cut, at);
  }
  return text.slice(0, cut);
}

/**
 * Incremental detokenisation for streaming: emits text once its UTF-8 is complete, holds back the
 * eos token and as many characters as a stop string could still need, and hands out the remainder
 * when generation ends.
 */
export class TextStream {
  private readonly ids: number[] = [];
  private sent = 0;
  private readonly holdBack: number;

  constructor(
    private readonly tokenizer: Pick<Tokenizer, 'decode' | 'eosTokenIds'>,
    private readonly stops: readonly string[],
  ) {
    this.holdBack = Math.max(0, ...stops.map((s) => s.length));
  }

  push(token: number): string {
    if (this.tokenizer.eosTokenIds.includes(token)) return '';
    this.ids.push(token);
    const text = this.tokenizer.decode(this.ids);
    if (text.endsWith('\uFFFD')) return '';
    const visible = visibleText(text, this.stops).length;
    const ready = visible === text.length ? text.length - this.holdBack : visible;
    if (ready <= this.sent) return '';
    const delta = text.slice(this.sent, ready);
    this.sent = ready;
    return delta;
  }

  /** What is left of the final text after the deltas already sent. */
  rest(finalText: string): string {
    return finalText.slice(this.sent);
  }
}
