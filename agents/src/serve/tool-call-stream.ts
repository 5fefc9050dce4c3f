import { randomUUID } from 'node:crypto';
import type { ToolCall } from '@toolgym/protocol';
import { TOOL_CALL_CLOSE, TOOL_CALL_OPEN, type ToolCallFormat } from '../chat/tool-call-format.ts';

/** A piece of a reply: prose, or one call the model wrote. */
export type ReplyPiece = { content: string } | { call: ToolCall };

/**
 * Reads the tool calls out of a reply as its text arrives, with the model's own call format
 * (`chat/`): prose goes out as soon as it cannot be the start of a `<tool_call>` block, each closed
 * block the format reads as exactly one call becomes that call, and a block it cannot read (or one
 * never closed) stays prose, whole. Whitespace between prose and a call is dropped. A whole reply
 * pushed at once gives what its pieces streamed would.
 */
export class ToolCallStream {
  private pending = '';
  private inBlock = false;
  /** Whitespace since the last prose sent: sent before more prose, dropped at the end after a call. */
  private space = '';
  private wroteProse = false;
  private callCount = 0;

  constructor(private readonly format: ToolCallFormat) {}

  /** Whether any call has been read. */
  get sawCalls(): boolean {
    return this.callCount > 0;
  }

  push(text: string): ReplyPiece[] {
    this.pending += text;
    const out: ReplyPiece[] = [];
    for (;;) {
      if (!this.inBlock) {
        const open = this.pending.indexOf(TOOL_CALL_OPEN);
        if (open < 0) {
          const keep = partialTagLength(this.pending);
          this.prose(this.pending.slice(0, this.pending.length - keep), out);
          this.pending = this.pending.slice(this.pending.length - keep);
          return out;
        }
        this.prose(this.pending.slice(0, open), out);
        this.pending = this.pending.slice(open);
        this.inBlock = true;
      }
      const close = this.pending.indexOf(TOOL_CALL_CLOSE);
      if (close < 0) return out;
      const block = this.pending.slice(0, close + TOOL_CALL_CLOSE.length);
      this.pending = this.pending.slice(block.length);
      this.inBlock = false;
      const { calls, errors } = this.format.parse(block, 'call');
      if (calls.length === 1 && errors.length === 0) {
        this.callCount++;
        out.push({ call: { ...calls[0]!, id: `call_${randomUUID().replace(/-/g, '').slice(0, 24)}` } });
      } else {
        this.prose(block, out);
      }
    }
  }

  /** The end of the reply: what is still held back is prose (a block never closed, a partial tag). */
  end(): ReplyPiece[] {
    const out: ReplyPiece[] = [];
    this.prose(this.pending, out);
    this.pending = '';
    // Without calls the reply is its text, verbatim; with them, trailing whitespace only separated.
    if (!this.sawCalls && this.space) out.push({ content: this.space });
    this.space = '';
    return out;
  }

  private prose(text: string, out: ReplyPiece[]): void {
    const all = this.space + text;
    const body = all.trimEnd();
    if (body.trim() === '') {
      this.space = all;
      return;
    }
    // Content that begins after a call does not begin with the whitespace that separated them.
    out.push({ content: this.sawCalls && !this.wroteProse ? body.trimStart() : body });
    this.wroteProse = true;
    this.space = all.slice(body.length);
  }
}

/** The prose and the calls of a run of pieces. */
export function contentAndCalls(pieces: readonly ReplyPiece[]): { content: string; calls: ToolCall[] } {
  return {
    content: pieces.flatMap((piece) => ('content' in piece ? [piece.content] : [])).join(''),
    calls: pieces.flatMap((piece) => ('call' in piece ? [piece.call] : [])),
  };
}

/** How many characters at the end of `text` could begin `<tool_call>`. */
function partialTagLength(text: string): number {
  for (let n = Math.min(TOOL_CALL_OPEN.length - 1, text.length); n > 0; n--)
    if (TOOL_CALL_OPEN.startsWith(text.slice(text.length - n))) return n;
  return 0;
}
