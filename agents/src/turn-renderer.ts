import type { Message, ToolSpec } from '@toolgym/protocol';
import type { ChatTemplate } from './chat/chat-template.ts';
import { encodePieces } from './piece-encoder.ts';
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
 * group renders its common prompt once; the prompt's layout, so the tool list is rendered once per
 * run; renders of turn windows, so group members that reach the same turn the same way render it
 * once; and the count of episodes for the periodic full check.
 */
export class RenderCache {
  readonly prompts = new Map<string, Observation>();
  /** Prompt layouts by the prompt's roles, with how often each was used; null where the template has none. */
  readonly layouts = new Map<string, { parts: PromptLayout; uses: number } | null>();
  private readonly windows = new Map<string, string>();
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

  /** Whether the episode ending now should be checked with a full render. */
  takeFullCheck(): boolean {
    return this.episodes++ % FULL_CHECK_EVERY === 0;
  }
}

/**
 * A prompt's render around its messages' contents: `parts[0] + content₀ + parts[1] + … + parts[n]`.
 * Learned once per run and role sequence from two Jinja renders with different stand-in contents
 * (whitespace and HTML-escapable characters included, so a template that trims, escapes or tests
 * its content shows it and gets none). It is used only for contents free of the tokenizer's special
 * tokens (templates test contents for those: Qwen3's `<tool_response>`), is checked against Jinja
 * on the run's first prompt, and the periodic full render at the end of an episode checks it again.
 */
export type PromptLayout = readonly string[];

const SLOT_MARKS: ReadonlyArray<(i: number) => string> = [
  (i) => ` \n<&"'\u0001${i}\u0002>\n `,
  (i) => `\t<'"&\u0003${i}\u0004>\t`,
];

/** The layout of prompts of `roles` (system and user turns), or null when the template has none. */
export function learnPromptLayout(
  template: ChatTemplate,
  tools: readonly ToolSpec[],
  roles: ReadonlyArray<'system' | 'user'>,
): PromptLayout | null {
  const [mark, other] = SLOT_MARKS as [(i: number) => string, (i: number) => string];
  const render = (slot: (i: number) => string) =>
    template.render(
      roles.map((role, i) => ({ role, content: slot(i) })),
      tools,
      { addGenerationPrompt: true },
    );
  let first: string;
  let second: string;
  try {
    first = render(mark);
    second = render(other);
  } catch {
    return null;
  }
  const parts: string[] = [];
  let rest = first;
  for (let i = 0; i < roles.length; i++) {
    const at = rest.indexOf(mark(i));
    if (at < 0) return null;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + mark(i).length);
  }
  parts.push(rest);
  return fillPromptLayout(
    parts,
    roles.map((_, i) => other(i)),
  ) === second
    ? parts
    : null;
}

/** The prompt text of a layout with these contents. */
export function fillPromptLayout(parts: PromptLayout, contents: readonly string[]): string {
  let text = parts[0]!;
  for (let i = 0; i < contents.length; i++) text += contents[i]! + parts[i + 1]!;
  return text;
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
  private readonly spellings = new Map<number, string>();
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
      const text = this.laidOut(cache, messages) ?? this.render(messages);
      prompt = { text, tokens: encodePieces(this.tokenizer, text) };
      if (cache.prompts.size >= MEMO_ENTRIES) cache.prompts.clear();
      cache.prompts.set(key, prompt);
    }
    return prompt;
  }

  /**
   * The prompt from the run's layout (`PromptLayout`) without Jinja, when it has one and the
   * contents are free of special tokens. The layout's first prompt is checked against Jinja (one
   * that renders otherwise is dropped for the run), and one in `FULL_CHECK_EVERY` after it: a
   * mismatch there is a template whose layout depends on the content, and fails the episode.
   */
  private laidOut(cache: RenderCache, messages: readonly Message[]): string | undefined {
    const roles: Array<'system' | 'user'> = [];
    for (const m of messages) {
      if ((m.role !== 'system' && m.role !== 'user') || m.content === '' || this.hasSpecialToken(m.content))
        return undefined;
      roles.push(m.role);
    }
    const key = roles.join(',');
    let layout = cache.layouts.get(key);
    if (layout === undefined) {
      const parts = learnPromptLayout(this.template, this.tools, roles);
      layout = parts ? { parts, uses: 0 } : null;
      cache.layouts.set(key, layout);
    }
    if (!layout) return undefined;
    const text = fillPromptLayout(
      layout.parts,
      messages.map((m) => m.content),
    );
    if (layout.uses++ % FULL_CHECK_EVERY === 0) {
      const rendered = this.render(messages);
      if (rendered !== text) {
        if (layout.uses > 1) throw mismatch(text, rendered);
        cache.layouts.set(key, null);
        return rendered;
      }
    }
    return text;
  }

  private hasSpecialToken(text: string): boolean {
    for (const token of this.tokenizer.specialTokens.keys()) if (text.includes(token)) return true;
    return false;
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
    if (stop === undefined || !this.stops.has(stop)) {
      const text = this.tokenizer.decode(tokens);
      return { content: text, text };
    }
    const content = this.tokenizer.decode(tokens.slice(0, -1));
    return { content, text: content + this.spelled(stop), stopTokenId: stop };
  }

  /** How the record spells a turn's end token: as the template writes its own. */
  private spelled(stop: number): string {
    const id = this.templateStop ?? stop;
    let text = this.spellings.get(id);
    if (text === undefined) {
      text = this.tokenizer.decode([id]);
      this.spellings.set(id, text);
    }
    return text;
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
    const tokens = this.cache ? encodePieces(this.tokenizer, text) : this.tokenizer.encode(text);
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
