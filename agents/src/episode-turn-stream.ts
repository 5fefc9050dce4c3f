import { type EpisodeTurn, plainArray, type Turn } from '@toolgym/protocol';
import type { EpisodeProgress } from './agent-loop.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * Turns one episode's progress into `EpisodeTurn` events carrying only what is new since the
 * previous turn: the messages and tokens added, each token with its decoded text piece.
 */
export class EpisodeTurnStream {
  private messagesSent = 0;
  private tokensSent = 0;
  private branchesSeen = 0;

  constructor(
    private readonly ids: { trajectoryId: string; runId?: string; step?: number; groupId?: string },
    /** Decodes token ids to their text pieces; pieces are cached per run (one vocabulary). */
    private readonly pieces?: TokenPieces,
  ) {}

  next(turn: Turn, progress: EpisodeProgress): EpisodeTurn {
    const { record } = progress;
    // A record the template rewrote (a new branch, or shorter than what was sent) is sent again from its start.
    const branches = record.branches?.length ?? 0;
    const from = branches !== this.branchesSeen || record.tokens.length < this.tokensSent ? 0 : this.tokensSent;
    const ids = plainArray(record.tokens, from);
    const event: EpisodeTurn = {
      ...this.ids,
      envId: progress.envId,
      taskId: progress.taskId,
      seed: progress.seed,
      startedAt: progress.startedAt,
      turn: structuredClone(turn),
      messages: progress.messages.slice(this.messagesSent),
      tokens: {
        from,
        ids,
        lossMask: plainArray(record.lossMask, from) as Array<0 | 1>,
        logprobs: plainArray(record.logprobs, from),
        ...(record.policyLogprobs ? { policyLogprobs: plainArray(record.policyLogprobs, from) } : {}),
        ...(this.pieces ? { pieces: ids.map((id) => this.pieces!.of(id)) } : {}),
      },
    };
    this.messagesSent = progress.messages.length;
    this.tokensSent = record.tokens.length;
    this.branchesSeen = branches;
    return event;
  }
}

/** Each token id's text as the tokenizer decodes it alone (a byte-level piece may decode to U+FFFD). */
export class TokenPieces {
  private readonly cache = new Map<number, string>();

  constructor(private readonly tokenizer: Tokenizer) {}

  of(id: number): string {
    let piece = this.cache.get(id);
    if (piece === undefined) {
      piece = this.tokenizer.decode([id]);
      this.cache.set(id, piece);
    }
    return piece;
  }
}
