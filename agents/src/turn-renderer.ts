import type { Message, ToolSpec } from '@toolgym/protocol';
import type { ChatTemplate } from './chat/chat-template.ts';
import { mismatch, type Observation, type TokenLedger } from './token-ledger.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * How the agent loop checks that the template's render of the conversation extends the token
 * record. `window` (default): every turn renders only the last two assistant turns and what
 * followed them on a stand-in conversation, so its cost does not grow with the history; this sees
 * every rewrite of a turn by what comes after it (reasoning stripping, trimming). A template whose
 * rendering depends on a turn's absolute position is caught by a full render at the end of the
 * first episode of a run and of one in `FULL_CHECK_EVERY` after it. `full`: every turn renders the
 * whole conversation (cost grows with the history; catches everything at once).
 */
export type TemplateCheck = 'window' | 'full';

/** One in this many episodes of a run ends with a full render checked against its record. */
export const FULL_CHECK_EVERY = 64;

/** Entries a run's render memo holds before it starts again empty. */
const MEMO_ENTRIES = 8_192;

/**
 * What the episodes of one run share (one policy, template and tool list): rendered prompts, so a
 * group renders its common prompt once; renders of turn windows and tokenized observations, so
 * group members that reach the same turn the same way render and tokenize it once; and the count
 * of episodes for the periodic full check.
 */
export class RenderCache {
  readonly prompts = new Map<string, Observation>();
  private readonly windows = new Map<string, string>();
  private readonly encoded = new Map<string, number[]>();
  private episodes = 0;

  /** `render()` memoised by `key` (the window's messages). */
  window(key: string, render: () => string): string {
    let text = this.windows.get(key);
    if (text === undefined) {
      text = render();
      if (this.windows.size >= MEMO_ENTRIES) this.windows.clear();
      this.windows.set(key, text);
    }
    return text;
  }

  /**
   * `tokenizer.encode(text)`, memoised piece by piece between the tokenizer's boundary tokens
   * (`Tokenizer.boundaryTokens`): prompts of one run differ in the task's turn, and the system
   * turn with the tool list, the bulk of their tokens, is tokenized once.
   */
  encode(tokenizer: Tokenizer, text: string): number[] {
    const boundary = boundaryPattern(tokenizer);
    if (!boundary) return this.encodePiece(tokenizer, text);
    const tokens: number[] = [];
    for (const [i, piece] of text.split(boundary).entries()) {
      if (piece === '') continue;
      if (i % 2 === 1) tokens.push(tokenizer.specialTokens.get(piece)!);
      else for (const id of this.encodePiece(tokenizer, piece)) tokens.push(id);
    }
    return tokens;
  }

  /** `tokenizer.encode(text)` memoised; callers must not change the array. */
  private encodePiece(tokenizer: Tokenizer, text: string): number[] {
    let tokens = this.encoded.get(text);
    if (tokens === undefined) {
      tokens = tokenizer.encode(text);
      if (this.encoded.size >= MEMO_ENTRIES) this.encoded.clear();
      this.encoded.set(text, tokens);
    }
    return tokens;
  }

  /** Whether the episode ending now should be checked with a full render. */
  takeFullCheck(): boolean {
    return this.episodes++ % FULL_CHECK_EVERY === 0;
  }
}

const boundaryPatterns = new WeakMap<Tokenizer, RegExp | null>();

/** A pattern that splits text at the tokenizer's boundary tokens, keeping them (odd pieces). */
function boundaryPattern(tokenizer: Tokenizer): RegExp | undefined {
  let pattern = boundaryPatterns.get(tokenizer);
  if (pattern === undefined) {
    const tokens = [...(tokenizer.boundaryTokens ?? [])]
      .filter((t) => t.length > 0 && tokenizer.specialTokens.has(t))
      // Longest first, so a token that extends another is matched whole.
      .sort((a, b) => b.length - a.length)
      .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    pattern = tokens.length > 0 ? new RegExp(`(${tokens.join('|')})`) : null;
    boundaryPatterns.set(tokenizer, pattern);
  }
  return pattern ?? undefined;
}

/** How a template writes an assistant turn, learned once per template from a stand-in render. */
interface TemplateShape {
  /** The render of a stand-in user turn with the generation prompt: what precedes assistant text. */
  head: string;
  /** What the template writes right after an assistant message's content (its end-of-turn). */
  afterContent: string;
}

/** A stand-in for the conversation before an assistant turn. */
const STAND_IN: Message[] = [{ role: 'user', content: '' }];
const MARK = '\u0001';
const shapes = new WeakMap<ChatTemplate, TemplateShape | null>();

function shapeOf(template: ChatTemplate): TemplateShape | undefined {
  let shape = shapes.get(template);
  if (shape === undefined) {
    try {
      const head = template.render(STAND_IN, [], { addGenerationPrompt: true });
      const closed = template.render([...STAND_IN, { role: 'assistant', content: MARK }], [], {
        addGenerationPrompt: false,
      });
      shape = closed.startsWith(head + MARK) ? { head, afterContent: closed.slice(head.length + 1) } : null;
    } catch {
      // A template may refuse the stand-in (e.g. it demands a system turn): every turn renders in full.
      shape = null;
    }
    shapes.set(template, shape);
  }
  return shape ?? undefined;
}

/** The end token the template writes after an assistant turn, if it writes one of the tokenizer's. */
export function templateStopTokenId(template: ChatTemplate, tokenizer: Tokenizer): number | undefined {
  const after = shapeOf(template)?.afterContent;
  if (after === undefined) return undefined;
  return tokenizer.eosTokenIds.find((id) => {
    const text = tokenizer.decode([id]);
    return text.length > 0 && after.startsWith(text);
  });
}

/** An assistant turn as the token record holds it. */
interface RecordedTurn {
  assistantIndex: number;
  /** The turn's text as the template writes it. */
  text: string;
  /** What followed it in the record up to the next assistant turn; unknown right after a branch. */
  observation?: string;
}

/** A sampled turn read back: the message content, and its text as the template writes it. */
export interface SampledTurn {
  content: string;
  text: string;
  /** The end or stop token it ended on, if any. */
  stopTokenId?: number;
}

/**
 * Renders what each turn of an exact-token episode appends, and only that: the prompt once (shared
 * by a run), then per turn the observation (tool results and the next assistant header). Sampled
 * tokens are never rendered or tokenized again. Reports when the template rewrote history, so the
 * record can branch.
 */
export class TurnRenderer {
  private readonly shape: TemplateShape | undefined;
  /** The end-of-turn id the template writes, and the other ids that end a turn as well. */
  private readonly templateStop: number | undefined;
  private readonly stops: ReadonlySet<number>;
  private previous: RecordedTurn | undefined;
  private last: RecordedTurn | undefined;

  constructor(
    private readonly template: ChatTemplate,
    private readonly tokenizer: Tokenizer,
    private readonly tools: readonly ToolSpec[],
    private readonly check: TemplateCheck,
    private readonly cache: RenderCache | undefined,
    /** Ids that end a turn besides the tokenizer's end tokens (`SamplingParams.stopTokenIds`). */
    stopTokenIds: readonly number[] = [],
  ) {
    this.shape = shapeOf(template);
    this.stops = new Set([...tokenizer.eosTokenIds, ...stopTokenIds]);
    this.templateStop = templateStopTokenId(template, tokenizer);
  }

  /** The first prompt, rendered and tokenized once per run and conversation. */
  prompt(ledger: TokenLedger, messages: readonly Message[]): Observation {
    const cache = this.cache;
    if (!cache) return ledger.observationFor(this.render(messages));
    const key = JSON.stringify(messages);
    let prompt = cache.prompts.get(key);
    if (!prompt) {
      const text = this.render(messages);
      prompt = { text, tokens: cache.encode(this.tokenizer, text) };
      if (cache.prompts.size >= MEMO_ENTRIES) cache.prompts.clear();
      cache.prompts.set(key, prompt);
    }
    return prompt;
  }

  private render(messages: readonly Message[]): string {
    return this.template.render(messages, this.tools, { addGenerationPrompt: true });
  }

  /**
   * The sampled tokens as content and as the template's text. A turn may end on any of the model's
   * end tokens; one the template spells otherwise (Qwen2.5's `<|endoftext|>` where it writes
   * `<|im_end|>`) stands in the text as the template's, so later renders still extend the record.
   */
  readSampled(tokens: readonly number[]): SampledTurn {
    const stop = tokens.at(-1);
    if (stop === undefined || !this.stops.has(stop))
      return { content: this.tokenizer.decode(tokens), text: this.tokenizer.decode(tokens) };
    const content = this.tokenizer.decode(tokens.slice(0, -1));
    const spelled =
      stop !== this.templateStop && this.templateStop !== undefined
        ? this.tokenizer.decode([this.templateStop])
        : this.tokenizer.decode([stop]);
    return { content, text: content + spelled, stopTokenId: stop };
  }

  /** Records the turn just sampled (its assistant message at `assistantIndex`). */
  sampled(assistantIndex: number, text: string): void {
    this.last = { assistantIndex, text };
  }

  /**
   * What the render of the conversation after the last sampled turn appends to the record, or
   * `rewritten` with the template's full render when it no longer extends the record.
   */
  afterTurn(
    ledger: TokenLedger,
    messages: readonly Message[],
    addGenerationPrompt: boolean,
  ): { observation: Observation } | { rewritten: string } {
    const last = this.last!;
    const windowed = this.check === 'window' ? this.windowed(messages, last, addGenerationPrompt) : undefined;
    let text: string;
    if (windowed !== undefined) text = windowed;
    else {
      const rendered = this.template.render(messages, this.tools, { addGenerationPrompt });
      if (!ledger.extendedBy(rendered)) return { rewritten: rendered };
      text = rendered.slice(ledger.renderedText.length);
    }
    const tokens = this.cache ? this.cache.encode(this.tokenizer, text) : this.tokenizer.encode(text);
    return { observation: { text, tokens } };
  }

  /** Records that the observation from `afterTurn` was appended. */
  observed(text: string): void {
    this.previous = { ...this.last!, observation: text };
  }

  /** After a branch on `rendered`: what the new record holds after the last turn, if it can be found. */
  branched(rendered: string): void {
    const last = this.last!;
    const at = rendered.lastIndexOf(last.text);
    this.previous = at >= 0 ? { ...last, observation: rendered.slice(at + last.text.length) } : undefined;
  }

  /**
   * The full render at the end of an episode, checked against the record (see `TemplateCheck`):
   * a mismatch here is a template the window cannot follow, and fails the episode. When the last
   * render `rewrote` history (it left the final results out of the record), the conversation
   * before the last turn must still render as recorded.
   */
  checkEnd(ledger: TokenLedger, messages: readonly Message[], rewrote: boolean): void {
    if (this.check !== 'window' || ledger.branches.length > 0) return;
    if (this.cache && !this.cache.takeFullCheck()) return;
    const held = rewrote
      ? ledger.renderedText.slice(0, ledger.renderedText.length - this.last!.text.length)
      : ledger.renderedText;
    const rendered = rewrote
      ? this.render(messages.slice(0, this.last!.assistantIndex))
      : this.template.render(messages, this.tools, { addGenerationPrompt: false });
    if (rendered !== held) throw mismatch(held, rendered);
  }

  /**
   * The observation after `last` from a render of the stand-in, the previous turn, and `last`: it
   * must reproduce both turns as recorded. Undefined when it does not (a rewrite, or a template
   * the stand-in does not suit): the caller renders in full.
   */
  private windowed(messages: readonly Message[], last: RecordedTurn, addGenerationPrompt: boolean) {
    if (!this.shape) return undefined;
    const previous = this.previous?.observation !== undefined ? this.previous : undefined;
    if (this.previous && !previous) return undefined;
    const from = previous?.assistantIndex ?? last.assistantIndex;
    const window = [...STAND_IN, ...messages.slice(from)];
    const render = () => this.template.render(window, [], { addGenerationPrompt });
    let rendered: string;
    try {
      rendered = this.cache
        ? this.cache.window(JSON.stringify([addGenerationPrompt, window]), render)
        : render();
    } catch {
      return undefined;
    }
    const expected = this.shape.head + (previous ? previous.text + previous.observation : '') + last.text;
    return rendered.startsWith(expected) ? rendered.slice(expected.length) : undefined;
  }
}
