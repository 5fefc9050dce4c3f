import type { Branch, Span } from '@toolgym/protocol';
import type { GenerateResult } from './policy.ts';

/**
 * The exact record of a message-mode episode on an engine that applies the chat template itself
 * but reports the ids (vLLM `return_token_ids`: `prompt_token_ids` and `token_ids`). Each turn's
 * prompt must extend the record so far; the extension is the previous turn's observation. If the
 * engine does not report ids, or its prompt rewrites what was sampled (a template that re-renders
 * tool calls differently), the record stops being exact and the trajectory is text-only — fine
 * for evaluation, refused by the trainer.
 */
export class EngineTokenRecord {
  readonly tokens: number[] = [];
  readonly lossMask: Array<0 | 1> = [];
  readonly logprobs: number[] = [];
  promptLength = 0;
  /** Why the record is not exact, once it is not. */
  brokenReason?: string;

  get exact(): boolean {
    return this.brokenReason === undefined && this.tokens.length > 0;
  }

  /** The record as a trajectory stores it: typed arrays, one copy per episode. */
  sequence(): Branch {
    return {
      tokens: Int32Array.from(this.tokens),
      lossMask: Uint8Array.from(this.lossMask),
      logprobs: Float64Array.from(this.logprobs),
      promptLength: this.promptLength,
    };
  }

  /** Adds one turn; returns its sampled span and the observation span of the turn before it. */
  addTurn(result: GenerateResult): { sampled: Span; previousObservation?: Span } | undefined {
    if (this.brokenReason !== undefined) return undefined;
    const prompt = result.promptTokens;
    if (!result.tokens || !prompt) {
      this.brokenReason = 'the engine reported no prompt or sampled token ids';
      return undefined;
    }
    let previousObservation: Span | undefined;
    const start = this.tokens.length;
    if (start === 0) {
      this.pushContext(prompt);
      this.promptLength = prompt.length;
    } else {
      if (prompt.length < start || this.tokens.some((id, i) => prompt[i] !== id)) {
        this.brokenReason =
          "the engine's prompt does not extend the tokens it sampled (its template re-renders history)";
        return undefined;
      }
      this.pushContext(prompt.slice(start));
      previousObservation = { start, end: this.tokens.length };
    }
    const sampledStart = this.tokens.length;
    const logprobs = result.logprobs?.length === result.tokens.length ? result.logprobs : undefined;
    result.tokens.forEach((id, i) => {
      this.tokens.push(id);
      this.lossMask.push(1);
      this.logprobs.push(logprobs?.[i] ?? 0);
    });
    return {
      sampled: { start: sampledStart, end: this.tokens.length },
      ...(previousObservation ? { previousObservation } : {}),
    };
  }

  private pushContext(ids: readonly number[]): void {
    for (const id of ids) {
      this.tokens.push(id);
      this.lossMask.push(0);
      this.logprobs.push(0);
    }
  }
}
