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
 * first episode of each conversation shape (its messages' roles, in order) that uses a
 * `RenderCache` (a run's, or a training run's across its steps) and of one in `FULL_CHECK_EVERY`
 * after it. `full`: every turn renders the whole conversation (cost grows
 * with the history; catches everything at once).
 */
export type TemplateCheck = 'window' | 'full';

/**
 * One in this many episodes of a run, besides the first of each conversation shape, ends with a
 * full render checked against its record; one in this many uses of a layout, besides its first, is
 * checked against Jinja.
 */
export const FULL_CHECK_EVERY = 256;

/** Entries a run's render memo holds before it starts again empty. */
const MEMO_ENTRIES = 8_192;

/**
 * What the episodes of one run share (one policy, template and tool list): rendered prompts, so a
 * group renders its common prompt once; layouts, so the tool list and each turn's window render
 * without Jinja; renders of turn windows for templates without a layout, so group members that
 * reach the same turn the same way render it once; and the count of episodes for the periodic
 * full check.
 */
export class RenderCache {
  /**
   * Prompts by their last message's content (the task's), each with the messages it renders:
   * looked up without building a key from the conversation.
   */
  private readonly prompts = new Map<string, Array<{ messages: readonly Message[]; prompt: Observation }>>();
  private promptCount = 0;
  /**
   * Layouts by the shape of what they render (tool list or none, generation prompt, the messages
   * with every slot marked), with how often each was used; null where the template has none.
   */
  readonly layouts = new Map<string, { layout: Layout; uses: number } | null>();
  /** The keys of `layouts` by what they render (tool list or none, generation prompt or not), message by message. */
  private readonly layoutKeys: LayoutKey[] = [];
  /** Where every message's shape starts (`messageShape`). */
  readonly messageShapes = new LayoutKey('');
  private readonly windows = new Map<string, string>();
  /** Conversation shapes (`conversationShape`) whose first episode has had its full check. */
  private readonly shapesChecked = new Set<string>();
  private episodes = 0;
  private longestAfterPrompt = 0;

  /**
   * Room a new record keeps beyond its prompt, in tokens: half again the most any episode of the
   * run has added after its prompt so far, so most records are made once at about their final
   * size instead of growing or keeping half a prompt unused; undefined before the first episode.
   */
  get recordHeadroom(): number | undefined {
    return this.longestAfterPrompt > 0 ? Math.max(32, Math.ceil(this.longestAfterPrompt * 1.5)) : undefined;
  }

  /** Notes how many tokens an episode's record held after its prompt when it ended. */
  noteRecord(afterPrompt: number): void {
    if (afterPrompt > this.longestAfterPrompt) this.longestAfterPrompt = afterPrompt;
  }

  /** The prompt rendered for messages the template sees as `messages`, if any. */
  prompt(messages: readonly Message[]): Observation | undefined {
    const last = messages.at(-1);
    return this.prompts
      .get(last?.content ?? '')
      ?.find(
        (p) =>
          p.messages.length === messages.length &&
          p.messages.every((m, i) => sameToTemplate(m, messages[i]!)),
      )?.prompt;
  }

  /** Keeps the prompt rendered for `messages` (a copy of the list is kept). */
  keepPrompt(messages: readonly Message[], prompt: Observation): void {
    if (this.promptCount++ >= MEMO_ENTRIES) {
      this.prompts.clear();
      this.promptCount = 1;
    }
    const key = messages.at(-1)?.content ?? '';
    const kept = this.prompts.get(key);
    const entry = { messages: [...messages], prompt };
    if (kept) kept.push(entry);
    else this.prompts.set(key, [entry]);
  }

  /**
   * Where the key of a layout (`layouts`) starts, for a render with or without a tool list and
   * generation prompt; `LayoutKey.followedBy` adds its messages' shapes.
   */
  layoutKey(tools: boolean, addGenerationPrompt: boolean): LayoutKey {
    const at = (tools ? 2 : 0) + (addGenerationPrompt ? 1 : 0);
    let key = this.layoutKeys[at];
    if (!key) {
      key = new LayoutKey(`${tools ? 'tools' : 'no tools'}, ${addGenerationPrompt ? 'open' : 'closed'}: `);
      this.layoutKeys[at] = key;
    }
    return key;
  }

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
   * Whether the episode ending now with `messages` is checked with a full render, and which check:
   * `first` for the first of its conversation shape, `periodic` for one in `FULL_CHECK_EVERY` of all.
   */
  takeFullCheck(messages: readonly Message[]): 'first' | 'periodic' | undefined {
    const sampled = this.episodes++ % FULL_CHECK_EVERY === 0;
    const shape = conversationShape(messages);
    if (this.shapesChecked.has(shape)) return sampled ? 'periodic' : undefined;
    if (this.shapesChecked.size >= MEMO_ENTRIES) this.shapesChecked.clear();
    this.shapesChecked.add(shape);
    return 'first';
  }
}

/**
 * A layout's key (`RenderCache.layouts`) as far as its messages so far, each further message a step
 * from it: a turn's window finds its key through the shapes of its messages (worked out once per
 * message) without building the key string again, so each distinct key is put together once. A
 * message's shape is itself a key, walked from `RenderCache.messageShapes` piece by piece
 * (`messageShape`), so no step builds or hashes a string a turn made.
 */
export class LayoutKey {
  private readonly next = new Map<string | LayoutKey, LayoutKey>();

  constructor(readonly key: string) {}

  /** This key followed by a piece of text, or by a message's shape (looked up as itself). */
  followedBy(step: string | LayoutKey): LayoutKey {
    let next = this.next.get(step);
    if (!next) {
      next = new LayoutKey(this.key + (typeof step === 'string' ? step : step.key));
      this.next.set(step, next);
    }
    return next;
  }
}

/** Whether a template sees `a` and `b` alike: it reads a message's role, content, name and call id only. */
function sameToTemplate(a: Message, b: Message): boolean {
  return a.role === b.role && a.content === b.content && a.name === b.name && a.toolCallId === b.toolCallId;
}

/** The roles of a conversation, in order: episodes of one shape have their turns at the same positions. */
function conversationShape(messages: readonly Message[]): string {
  let shape = '';
  for (const m of messages) shape += m.role[0];
  return shape;
}

/**
 * A render around its slots: `parts[0] + values[slots[0]] + parts[1] + … + parts[n]`. A slot is a
 * run of text between special tokens in a message's content, or a tool result's name or call id;
 * the special tokens stay in place, since templates test contents for them (Qwen3's
 * `<tool_response>`, `</think>`), and a slot the template does not write (a call id) is left out.
 * Learned once per run and shape (roles, fields, special tokens, generation prompt) from two Jinja
 * renders with different stand-ins in every slot (whitespace and HTML-escapable characters
 * included, so a template that trims, escapes or repeats a slot shows it and gets none). A layout
 * is checked against Jinja on its first use and one in `FULL_CHECK_EVERY` uses after it, and the
 * periodic full render at the end of an episode checks the record again.
 */
export interface Layout {
  readonly parts: readonly string[];
  /** The slots the template writes, in the order it writes them. */
  readonly slots: readonly number[];
}

const SLOT_MARKS: ReadonlyArray<(i: number) => string> = [
  (i) => ` \n<&"'\u0001${i}\u0002>\n `,
  (i) => `\t<'"&\u0003${i}\u0004>\t`,
];

/** The layout of `render` over `slots` slots, or null when the template has none. */
export function learnLayout(render: (slot: (i: number) => string) => string, slots: number): Layout | null {
  const [mark, other] = SLOT_MARKS as [(i: number) => string, (i: number) => string];
  let first: string;
  let second: string;
  try {
    first = render(mark);
    second = render(other);
  } catch {
    return null;
  }
  const found = Array.from({ length: slots }, (_, i) => ({ slot: i, at: first.indexOf(mark(i)) }))
    .filter((f) => f.at >= 0)
    .sort((x, y) => x.at - y.at);
  const parts: string[] = [];
  let from = 0;
  for (const { slot, at } of found) {
    if (at < from) return null;
    parts.push(first.slice(from, at));
    from = at + mark(slot).length;
  }
  parts.push(first.slice(from));
  const layout = { parts, slots: found.map((f) => f.slot) };
  return fillLayout(
    layout,
    Array.from({ length: slots }, (_, i) => other(i)),
  ) === second
    ? layout
    : null;
}

/** The text of a layout with these slot values. */
export function fillLayout(layout: Layout, values: readonly string[]): string {
  const { parts, slots } = layout;
  let text = parts[0]!;
  for (let i = 0; i < slots.length; i++) text += values[slots[i]!]! + parts[i + 1]!;
  return text;
}

/**
 * What the text of a layout with these slot values (`fillLayout`) holds after `held`, the strings
 * it must start with, in order; undefined when it does not start with them. Only the part after
 * them is put together: a turn's window is mostly the two turns it checks.
 */
export function layoutAfter(
  layout: Layout,
  values: readonly string[],
  held: readonly string[],
): string | undefined {
  const { parts, slots } = layout;
  // The next held string, and how much of it the segments so far have matched.
  let h = 0;
  let matched = 0;
  let after: string | undefined;
  for (let k = 0; k <= 2 * slots.length; k++) {
    const segment = k % 2 === 0 ? parts[k >> 1]! : values[slots[k >> 1]!]!;
    if (after !== undefined) {
      after += segment;
      continue;
    }
    let at = 0;
    while (h < held.length) {
      const want = held[h]!;
      const n = Math.min(want.length - matched, segment.length - at);
      if (!sameRun(segment, at, want, matched, n)) return undefined;
      at += n;
      matched += n;
      if (matched === want.length) {
        h++;
        matched = 0;
      }
      if (at === segment.length) break;
    }
    if (h === held.length) after = at === 0 ? segment : segment.slice(at);
  }
  // Empty held strings past the last segment.
  while (h < held.length && held[h] === '') h++;
  return h === held.length ? (after ?? '') : undefined;
}

/**
 * Whether `a` from `aAt` and `b` from `bAt` agree for `n` characters. Compared as (sliced) strings:
 * V8 compares two strings' characters in one native pass, where `startsWith` and a `charCodeAt`
 * loop step through them one at a time (about 3 ns a character on this machine, ten times slower).
 */
function sameRun(a: string, aAt: number, b: string, bAt: number, n: number): boolean {
  return (
    (aAt === 0 && n === a.length ? a : a.slice(aAt, aAt + n)) ===
    (bAt === 0 && n === b.length ? b : b.slice(bAt, bAt + n))
  );
}

/**
 * Finds a tokenizer's special tokens in text as splitting at `tokenPattern` of them does (the
 * leftmost, and of those starting there the longest), without a regular expression or arrays: at
 * each occurrence of a token's first character (one, `<`, for most models), the tokens starting with
 * it are tried longest first. Most contents hold none of those characters (tool results).
 */
export class SpecialTokens {
  /** The token found by the last `find`. */
  token = '';
  /** The distinct first characters of the tokens. */
  private readonly starts: string[];
  /** `find`'s scratch: where each first character occurs next. */
  private readonly nextAt: number[];
  /** The tokens by their first character's code, longest first. */
  private readonly byStart = new Map<number, string[]>();

  constructor(tokens: Iterable<string>) {
    const sorted = [...tokens].filter((t) => t.length > 0).sort((a, b) => b.length - a.length);
    for (const token of sorted) {
      const code = token.charCodeAt(0);
      const list = this.byStart.get(code);
      if (list) list.push(token);
      else this.byStart.set(code, [token]);
    }
    this.starts = [...this.byStart.keys()].map((code) => String.fromCharCode(code));
    this.nextAt = this.starts.map(() => -1);
  }

  /**
   * Where the next token at or after `from` starts in `text` (and `token` is it), or -1. Each first
   * character's next occurrence is searched for again only once the scan has passed it, so a text
   * full of one of them (HTML in a tool result) is read once, whatever the others.
   */
  find(text: string, from: number): number {
    const { starts, nextAt } = this;
    for (let i = 0; i < starts.length; i++) nextAt[i] = text.indexOf(starts[i]!, from);
    for (;;) {
      let at = -1;
      for (const found of nextAt) if (found >= 0 && (at < 0 || found < at)) at = found;
      if (at < 0) return -1;
      for (const token of this.byStart.get(text.charCodeAt(at))!) {
        const end = at + token.length;
        // The last characters differ first (`<tool_call>` against `<tool_response>`).
        if (
          end <= text.length &&
          text.charCodeAt(end - 1) === token.charCodeAt(token.length - 1) &&
          text.startsWith(token, at)
        ) {
          this.token = token;
          return at;
        }
      }
      for (let i = 0; i < starts.length; i++)
        if (nextAt[i] === at) nextAt[i] = text.indexOf(starts[i]!, at + 1);
    }
  }
}

const specials = new WeakMap<Tokenizer, SpecialTokens>();

function specialTokensOf(tokenizer: Tokenizer): SpecialTokens {
  let found = specials.get(tokenizer);
  if (!found) {
    found = new SpecialTokens(tokenizer.specialTokens.keys());
    specials.set(tokenizer, found);
  }
  return found;
}

/**
 * The messages as the template sees them (content; a tool result's name and call id), each run of
 * text between special tokens replaced by `slot()` in order; empty runs and special tokens stay.
 */
function slotted(messages: readonly Message[], special: SpecialTokens, slot: () => string): Message[] {
  const field = (text: string) => shapeField(new LayoutKey(''), text, special, []).key.replaceAll(MARK, slot);
  return messages.map((m): Message => {
    if (m.role !== 'tool') return { role: m.role, content: field(m.content) };
    return {
      role: 'tool',
      content: field(m.content),
      ...(m.name !== undefined ? { name: field(m.name) } : {}),
      ...(m.toolCallId !== undefined ? { toolCallId: field(m.toolCallId) } : {}),
    };
  });
}

/**
 * `shape` followed by one field with each run of text between special tokens replaced by `MARK`
 * and pushed onto `values`, in order; empty runs and special tokens stay.
 */
function shapeField(shape: LayoutKey, text: string, special: SpecialTokens, values: string[]): LayoutKey {
  let from = 0;
  for (let at = special.find(text, 0); at >= 0; at = special.find(text, from)) {
    if (at > from) {
      values.push(text.slice(from, at));
      shape = shape.followedBy(MARK);
    }
    shape = shape.followedBy(special.token);
    from = at + special.token.length;
  }
  if (from < text.length) {
    values.push(from === 0 ? text : text.slice(from));
    shape = shape.followedBy(MARK);
  }
  return shape;
}

/**
 * The shape `slotted` gives one message, walked from `shapes` (`RenderCache.messageShapes`): each
 * field with its runs of text replaced by `MARK` (special tokens and empty runs stay), in the order
 * `slotted` visits them; the runs are pushed onto `values` in that order. Builds no message objects
 * and no strings: it runs on every turn. A conversation's shape is its messages' in order (`LayoutKey`).
 */
function messageShape(m: Message, special: SpecialTokens, values: string[], shapes: LayoutKey): LayoutKey {
  // Fields are separated by NUL, messages by two: neither occurs in a role, a mark or a special token.
  let shape = shapeField(shapes.followedBy(m.role).followedBy('\0'), m.content, special, values);
  if (m.role === 'tool') {
    if (m.name !== undefined) shape = shapeField(shape.followedBy('\0name '), m.name, special, values);
    if (m.toolCallId !== undefined)
      shape = shapeField(shape.followedBy('\0id '), m.toolCallId, special, values);
  }
  return shape.followedBy('\0\0');
}

/** A message's `messageShape` and the runs it pushed: a turn's messages are in two windows. */
interface SlottedMessage {
  message: Message;
  shape: LayoutKey;
  values: readonly string[];
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
/** The window from `from` on, after the stand-in. */
function windowOf(messages: readonly Message[], from: number): Message[] {
  return [...STAND_IN, ...messages.slice(from)];
}
/** What Jinja renders for `layoutFor`: the messages, or the window from `windowFrom` on (made only then). */
function jinjaMessages(messages: readonly Message[], windowFrom: number | undefined): readonly Message[] {
  return windowFrom === undefined ? messages : windowOf(messages, windowFrom);
}
/** `messageShape` of the stand-in (its content is empty: no slot). */
const STAND_IN_SHAPE = 'user\0\0\0';
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
    const text = spellingOf(tokenizer, id);
    return text.length > 0 && after.startsWith(text);
  });
}

/** What each tokenizer's ids decode to alone, as turns' end tokens are looked up (every episode). */
const spellings = new WeakMap<Tokenizer, Map<number, string>>();

function spellingOf(tokenizer: Tokenizer, id: number): string {
  let known = spellings.get(tokenizer);
  if (!known) {
    known = new Map();
    spellings.set(tokenizer, known);
  }
  let text = known.get(id);
  if (text === undefined) {
    text = tokenizer.decode([id]);
    known.set(id, text);
  }
  return text;
}

/** A tokenizer's end ids, shared by its episodes that add no stop ids of their own. */
const endIds = new WeakMap<Tokenizer, ReadonlySet<number>>();

function stopsOf(tokenizer: Tokenizer, stopTokenIds: readonly number[]): ReadonlySet<number> {
  if (stopTokenIds.length > 0) return new Set([...tokenizer.eosTokenIds, ...stopTokenIds]);
  let stops = endIds.get(tokenizer);
  if (!stops) {
    stops = new Set(tokenizer.eosTokenIds);
    endIds.set(tokenizer, stops);
  }
  return stops;
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
  /** `slottedMessage`'s work by message index (the loop only appends messages). */
  private readonly slottedMessages: SlottedMessage[] = [];
  /** How many messages the prompt rendered, and the length of its text (the record's start). */
  private promptMessages = 0;
  private promptTextLength = 0;

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
    this.stops = stopsOf(tokenizer, stopTokenIds);
    this.templateStop = templateStopTokenId(template, tokenizer);
  }

  /** The first prompt, rendered and tokenized once per run and conversation. */
  prompt(ledger: TokenLedger, messages: readonly Message[]): Observation {
    const cache = this.cache;
    const prompt = cache ? this.cachedPrompt(cache, messages) : ledger.observationFor(this.render(messages));
    this.promptMessages = messages.length;
    this.promptTextLength = prompt.text.length;
    return prompt;
  }

  /** The prompt for `messages` from the run's cache, rendered from its layout when new to it. */
  private cachedPrompt(cache: RenderCache, messages: readonly Message[]): Observation {
    let prompt = cache.prompt(messages);
    if (!prompt) {
      const values: string[] = [];
      const special = specialTokensOf(this.tokenizer);
      let key = cache.layoutKey(this.tools.length > 0, true);
      for (const m of messages) key = key.followedBy(messageShape(m, special, values, cache.messageShapes));
      const laidOut = this.layoutFor(cache, key.key, values, messages, undefined, this.tools, true);
      const text =
        laidOut === undefined
          ? this.render(messages)
          : typeof laidOut === 'string'
            ? laidOut
            : fillLayout(laidOut, values);
      // Typed, so each episode's record copies it in one move.
      prompt = { text, tokens: Int32Array.from(encodePieces(this.tokenizer, text)) };
      cache.keepPrompt(messages, prompt);
    }
    return prompt;
  }

  /**
   * The run's layout under `key` (the shape of `messages`, `LayoutKey`), to fill with `values` without Jinja;
   * Jinja's render itself when the layout was just dropped; undefined when the template has none.
   * A layout's first use is checked against Jinja (one that renders otherwise is dropped for the
   * run), and one in `FULL_CHECK_EVERY` after it: a mismatch there is a template whose layout
   * depends on the content, and fails the episode.
   */
  private layoutFor(
    cache: RenderCache,
    key: string,
    values: readonly string[],
    messages: readonly Message[],
    windowFrom: number | undefined,
    tools: readonly ToolSpec[],
    addGenerationPrompt: boolean,
  ): Layout | string | undefined {
    let layout = cache.layouts.get(key);
    if (layout === undefined) {
      const rendered = jinjaMessages(messages, windowFrom);
      const special = specialTokensOf(this.tokenizer);
      const learned = learnLayout((mark) => {
        let i = 0;
        return this.template.render(
          slotted(rendered, special, () => mark(i++)),
          tools,
          { addGenerationPrompt },
        );
      }, values.length);
      layout = learned ? { layout: learned, uses: 0 } : null;
      cache.layouts.set(key, layout);
    }
    if (!layout) return undefined;
    if (layout.uses++ % FULL_CHECK_EVERY === 0) {
      const text = fillLayout(layout.layout, values);
      const rendered = this.template.render(jinjaMessages(messages, windowFrom), tools, {
        addGenerationPrompt,
      });
      if (rendered !== text) {
        if (layout.uses > 1) throw mismatch(text, rendered);
        cache.layouts.set(key, null);
        return rendered;
      }
    }
    return layout.layout;
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
    const tokenizer = this.tokenizer;
    const content = tokenizer.decodeFirst
      ? tokenizer.decodeFirst(tokens, tokens.length - 1)
      : tokenizer.decode(tokens.slice(0, -1));
    return { content, text: content + this.spelled(stop), stopTokenId: stop };
  }

  /** How the record spells a turn's end token: as the template writes its own. */
  private spelled(stop: number): string {
    return spellingOf(this.tokenizer, this.templateStop ?? stop);
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
    const last = this.last!;
    this.previous = { assistantIndex: last.assistantIndex, text: last.text, observation: text };
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
   * before the last turn must still render as recorded. A periodic check (`RenderCache.takeFullCheck`)
   * first renders without the tool list (`turnsRenderAsRecorded`) and renders with it only when
   * that disagrees, so only the render with the tool list decides a mismatch.
   */
  checkEnd(ledger: TokenLedger, messages: readonly Message[], rewrote: boolean): void {
    if (this.check !== 'window' || ledger.branches.length > 0) return;
    const taken = this.cache ? this.cache.takeFullCheck(messages) : 'first';
    if (taken === undefined) return;
    if (taken === 'periodic' && !rewrote && this.turnsRenderAsRecorded(ledger, messages)) return;
    const held = rewrote
      ? ledger.renderedText.slice(0, ledger.renderedText.length - this.last!.text.length)
      : ledger.renderedText;
    const rendered = rewrote
      ? this.render(messages.slice(0, this.last!.assistantIndex))
      : this.template.render(messages, this.tools, { addGenerationPrompt: false });
    if (rendered !== held) throw mismatch(held, rendered);
  }

  /**
   * Whether the conversation rendered without the tool list reads as the record after its prompt:
   * the render of the prompt's messages without it, then every turn as recorded. What a periodic
   * check is for, a turn rendered by content the two-turn window cannot see, shows without the tool
   * list; the tool list is the same in every episode of a run, and the first episode of each
   * conversation shape renders it in full. With compose's 17 tools this is about a tenth of the
   * render with them. False when the template renders otherwise or refuses an empty tool list.
   */
  private turnsRenderAsRecorded(ledger: TokenLedger, messages: readonly Message[]): boolean {
    const textLength = this.promptTextLength;
    let head: string;
    let all: string;
    try {
      head = this.template.render(messages.slice(0, this.promptMessages), [], { addGenerationPrompt: true });
      all = this.template.render(messages, [], { addGenerationPrompt: false });
    } catch {
      return false;
    }
    const held = ledger.renderedText;
    return (
      all.length - head.length === held.length - textLength &&
      all.startsWith(head) &&
      all.endsWith(held.slice(textLength))
    );
  }

  /**
   * The observation after `last` from a render of the stand-in, the previous turn, and `last`: it
   * must reproduce both turns as recorded. Undefined when it does not (a rewrite, or a template
   * the stand-in does not suit): the caller renders in full.
   */
  private windowed(messages: readonly Message[], last: RecordedTurn, addGenerationPrompt: boolean) {
    const shape = this.shape;
    if (!shape) return undefined;
    const previous = this.previous?.observation !== undefined ? this.previous : undefined;
    if (this.previous && !previous) return undefined;
    const from = previous?.assistantIndex ?? last.assistantIndex;
    const cache = this.cache;
    let rendered: string | undefined;
    // What the render must start with: the stand-in's head, then both turns as recorded.
    const held = previous
      ? [shape.head, previous.text, previous.observation!, last.text]
      : [shape.head, last.text];
    if (cache) {
      let key = cache.layoutKey(false, addGenerationPrompt).followedBy(STAND_IN_SHAPE);
      const values: string[] = [];
      for (let i = from; i < messages.length; i++) {
        const slotted = this.slottedMessage(cache, messages, i);
        key = key.followedBy(slotted.shape);
        for (const value of slotted.values) values.push(value);
      }
      const laidOut = this.layoutFor(cache, key.key, values, messages, from, [], addGenerationPrompt);
      if (typeof laidOut === 'object') return layoutAfter(laidOut, values, held);
      rendered = laidOut;
    }
    // Without a layout (the closure is made only then: a turn with one makes none).
    if (rendered === undefined) {
      const messagesOfWindow = windowOf(messages, from);
      const render = () => this.template.render(messagesOfWindow, [], { addGenerationPrompt });
      try {
        rendered = cache
          ? cache.window(JSON.stringify([addGenerationPrompt, messagesOfWindow]), render)
          : render();
      } catch {
        return undefined;
      }
    }
    let at = 0;
    for (const text of held) {
      if (!rendered.startsWith(text, at)) return undefined;
      at += text.length;
    }
    return rendered.slice(at);
  }

  /** `messageShape` of the message at `index`, worked out once (each is in two windows). */
  private slottedMessage(cache: RenderCache, messages: readonly Message[], index: number): SlottedMessage {
    const message = messages[index]!;
    let slotted = this.slottedMessages[index];
    if (slotted?.message !== message) {
      const values: string[] = [];
      const special = specialTokensOf(this.tokenizer);
      slotted = { message, shape: messageShape(message, special, values, cache.messageShapes), values };
      this.slottedMessages[index] = slotted;
    }
    return slotted;
  }
}
