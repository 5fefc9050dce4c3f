/**
 * The `onnx` policy: a decoder-only language model in the Optimum export convention on
 * onnxruntime-node, in process. ToolGym's built-in model and exported Hugging Face models load through
 * the same code (`readModelDir` → `DecoderSession`).
 *
 * Generation: requests that arrive together are generated as one batch with a KV cache; requests
 * that arrive while it runs join it (continuous batching) and rows that finish leave it. The model
 * side of a batch is a `DecodeBatch` (decode-batch.ts) of the chosen cache strategy: ToolGym's
 * decoders run `in-place` (the graph is rebuilt from model.onnx's weights with a fixed-capacity cache
 * the engine writes in place), exported models in their own `present` convention. Each request has
 * its own seeded generator, so a request samples the same tokens alone, in any batch, and under any
 * strategy; batch-invariant (the default, `in-place`), its logprobs are the same bits too. `loadWeights` swaps the model between batches and increases `version`.
 */
import { readFileSync } from 'node:fs';
import { Rng } from '@toolgym/protocol';
import type { FinishReason } from '@toolgym/protocol';
import { ChatTemplate } from '../chat/chat-template.ts';
import type { DecoderWeights } from '../model/decoder-config.ts';
import type { GenerateRequest, GenerateResult, Policy, SamplingParams, TokenIds } from '../policy.ts';
import type { DecodeBatch, RowLogits } from './decode-batch.ts';
import type { DecodeProfile, DecodeWatch } from './decode-profile.ts';
import { buildDecoderOnnx, type KvCacheLayout, type SharedSlotProducts } from '../model/decoder-graph.ts';
import { DecoderSession } from './decoder-session.ts';
import { PolicyRequestError } from './errors.ts';
import {
  createInferenceSession,
  type ExecutionProviderChoice,
  ExecutionProviderError,
  type ExecutionProviderPreference,
} from './execution-provider.ts';
import type { HuggingFaceTokenizer } from '../model/hf-tokenizer.ts';
import { type ModelDir, ModelDirError, readDecoderWeights, readModelDir } from '../model/model-directory.ts';
import { InPlaceBatch, type PromptSlots } from './in-place-batch.ts';
import { PaddedBatch } from './padded-batch.ts';
import { PromptGroupBatch } from './prompt-group-batch.ts';
import { checkSamplingParams, sampleToken } from './sampler.ts';
import { type TopLogprob, topLogprobs } from './top-logprobs.ts';

/**
 * How generation keeps keys and values: `in-place` (a fixed-capacity cache written in place; needs a
 * ToolGym decoder, whose graph is rebuilt from its weights), `present` (the model.onnx convention:
 * the cache grows by concatenation and comes back whole every step), `off` (every step recomputes
 * every sequence: the baseline), or `auto` (`in-place` for ToolGym decoders, else `present`).
 */
export type KvCacheMode = 'auto' | KvCacheLayout | 'off';
const KV_CACHE_MODES: readonly KvCacheMode[] = ['auto', 'in-place', 'present', 'off'];

export interface OnnxPolicySettings {
  /** Model directory (config.json, model.onnx, tokenizer.json, …). */
  model: string;
  /** `auto` (default): CUDA when its provider loads, else CPU. */
  executionProvider?: ExecutionProviderPreference;
  /** Most sequences generated in one batch (default 64). */
  maxBatchSize?: number;
  /** How keys/values of earlier positions are kept (default `auto`; see KvCacheMode). */
  kvCache?: KvCacheMode;
  /**
   * onnxruntime intra-op threads (default 1). The small model's kernels are too small for
   * intra-op parallelism to pay, and rollouts share the CPU with environments: measured on the 2-core
   * dev machine under load, 1 thread ran a decode step 2–3× faster than onnxruntime's default
   * (one per core). Raise it for large exported models on an otherwise idle CPU; above 1 the pool's
   * threads wait without spinning.
   */
  threads?: number;
  /**
   * A row's logits do not depend on the rows it shares a batch with, nor on when it joined (default
   * true), so the same requests and seeds give the same tokens and logprobs bit for bit, however
   * they arrive. The in-place layout then prefills a prompt only with prompts of its own length (no
   * padding shifts its reductions) and keeps every prompt in its own rows' slots (the shared slots
   * split the softmax and its weighted sum in another order). `false` allows both, which is faster
   * for GRPO groups, and a row's logprobs may then differ in their last bits with the batch it
   * happened to share, which depends on timing. The `present` and `off` strategies pad rows to one
   * length and are not batch-invariant.
   */
  batchInvariant?: boolean;
  /**
   * In-place layout: keep every prompt apart from its rows' own slots, alone as in a batch, at
   * offsets aligned to `PROMPT_ALIGN` (default false): a GRPO group's (8 rows or more of one join) in
   * the shared slots of a sub-batch of its own, so its rows read it once per step instead of once
   * per row, any other row's in a section of its own (prompt-group-batch.ts). Batch-invariant too
   * (with `batchInvariant`). Off by default because a row's attention then sums its prompt apart from
   * what it generated, so its logprobs differ in the last bits from the default's (whose figures are
   * recorded).
   */
  sharedPrompts?: boolean;
}

/** Called for every sampled token of a request, in order (streaming); `top` when `topLogprobs` is asked. */
export type TokenListener = (token: number, logprob: number, top?: TopLogprob[]) => void;

/** A token-mode request, with the extras the OpenAI-compatible server needs. */
export interface OnnxGenerateRequest {
  tokens: TokenIds;
  sampling: SamplingParams;
  signal?: AbortSignal;
  onToken?: TokenListener;
  /** Report this many likeliest tokens at each sampled position to `onToken` (OpenAI `top_logprobs`). */
  topLogprobs?: number;
  /** Keep generating past eos (vLLM `ignore_eos`), e.g. for fixed-length benchmarks. */
  ignoreEos?: boolean;
}

interface PendingRequest {
  request: OnnxGenerateRequest;
  resolve: (result: GenerateResult) => void;
  reject: (error: unknown) => void;
}

/** One sequence being generated inside a batch. */
interface Row {
  pending: PendingRequest;
  prompt: readonly number[];
  sampling: SamplingParams;
  rng: Rng;
  stopIds: Set<number>;
  /** Tokens of the stop strings' longest possible span, for the tail check. */
  stopWindow: number;
  generated: number[];
  /** Under the distribution each token was drawn from; `policyLogprobs` under the policy's own. */
  logprobs: number[];
  policyLogprobs: number[];
  /** The prompt and the tokens generated so far. */
  sequence: number[];
  finish?: FinishReason;
}

export class OnnxPolicy implements Policy {
  readonly id: string;
  private versionValue: number;
  private model: ModelDir;
  private decoder: DecoderSession;
  /**
   * In-place layout: opens the same weights with shared slots (in-place-batch.ts), multiplied one
   * way or the other, at the first step that needs it; `sharing` holds those sessions, kept until the
   * weights change.
   */
  private openSharing: ((products: SharedSlotProducts) => Promise<DecoderSession>) | undefined;
  private sharing = new Map<SharedSlotProducts, Promise<DecoderSession>>();
  /** The in-place cache's buffers, kept from batch to batch (per decoder). */
  private inPlace: InPlaceBatch | PromptGroupBatch | undefined;
  private readonly settings: Required<OnnxPolicySettings>;
  private pending: PendingRequest[] = [];
  private pumping = false;
  /** Serialises batches and weight swaps. */
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Weight swaps waiting for the running batch: no new requests join it meanwhile. */
  private swapsWaiting = 0;
  /** The model's chat template, compiled once (message-mode requests). */
  private template: ChatTemplate | undefined;
  /** When set, every forward call's time is added to it by phase (`pnpm bench policy --profile`). */
  profile: DecodeProfile | undefined;

  private constructor(settings: OnnxPolicy['settings'], model: ModelDir, decoders: Decoders) {
    this.settings = settings;
    this.model = model;
    this.decoder = decoders.decoder;
    this.openSharing = decoders.openSharing;
    this.id = `onnx:${settings.model}`;
    this.versionValue = model.toolgym?.policyVersion ?? 0;
  }

  static async create(settings: OnnxPolicySettings): Promise<OnnxPolicy> {
    const full: Required<OnnxPolicySettings> = {
      executionProvider: 'auto',
      maxBatchSize: 64,
      kvCache: 'auto',
      threads: 1,
      batchInvariant: true,
      sharedPrompts: false,
      ...settings,
    };
    if (!KV_CACHE_MODES.includes(full.kvCache)) {
      throw new PolicyRequestError(
        'bad_settings',
        `onnx policy: kvCache must be one of ${KV_CACHE_MODES.join(', ')}, got ${JSON.stringify(full.kvCache)}`,
      );
    }
    for (const key of ['maxBatchSize', 'threads'] as const) {
      if (!Number.isInteger(full[key]) || full[key] < 1) {
        throw new PolicyRequestError(
          'bad_settings',
          `onnx policy: ${key} must be a positive integer, got ${full[key]}`,
        );
      }
    }
    const model = readModelDir(settings.model);
    return new OnnxPolicy(full, model, await openDecoders(model, undefined, full));
  }

  get version(): number {
    return this.versionValue;
  }
  get tokenizer(): HuggingFaceTokenizer {
    return this.model.tokenizer;
  }
  get chatTemplate(): string | undefined {
    return this.model.chatTemplate;
  }
  /** Where the model runs and why (CUDA when available, else CPU). */
  get executionProvider(): ExecutionProviderChoice {
    return this.decoder.executionProvider;
  }
  /** The loaded model directory (sizes, eos ids, toolgym.json). */
  get modelDir(): ModelDir {
    return this.model;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if ('tokens' in request) return this.enqueue(request);
    if (!this.model.chatTemplate) {
      throw new PolicyRequestError(
        'bad_sampling',
        `${this.model.dir}/tokenizer_config.json has no chat_template; send tokens instead of messages`,
      );
    }
    if (this.template?.source !== this.model.chatTemplate)
      this.template = new ChatTemplate(
        this.model.chatTemplate,
        {},
        `${this.model.dir}/tokenizer_config.json`,
      );
    const prompt = this.template.render(request.messages, request.tools, { addGenerationPrompt: true });
    return this.enqueue({
      tokens: this.model.tokenizer.encode(prompt),
      sampling: request.sampling,
      ...(request.signal ? { signal: request.signal } : {}),
    });
  }

  async generateBatch(
    requests: Array<Extract<GenerateRequest, { tokens: TokenIds }>>,
  ): Promise<GenerateResult[]> {
    return Promise.all(requests.map((r) => this.enqueue(r)));
  }

  /** Token-mode generation with an optional per-token listener (streaming). */
  enqueue(request: OnnxGenerateRequest): Promise<GenerateResult> {
    if (this.closed)
      return Promise.reject(new PolicyRequestError('policy_closed', `policy ${this.id} is closed`));
    try {
      this.checkRequest(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ request, resolve, reject });
      void this.pump();
    });
  }

  /**
   * Loads new weights and increases `version` (by one, or to `options.version`). A directory is read
   * like any model directory; a weights object must fit this model's decoder config (toolgym.json) and
   * is compiled to ONNX in memory. Batches already running finish on the old weights.
   */
  async loadWeights(source: string | DecoderWeights, options: { version?: number } = {}): Promise<number> {
    const next = options.version ?? this.versionValue + 1;
    if (next <= this.versionValue)
      throw new Error(`loadWeights: version ${next} must be above the current ${this.versionValue}`);
    let model = this.model;
    let weights: DecoderWeights | undefined;
    if (typeof source === 'string') model = readModelDir(source);
    else {
      if (!this.model.toolgym) {
        throw new Error(
          `loadWeights: ${this.model.dir} has no toolgym.json decoder config; load a model directory instead of a weights object`,
        );
      }
      weights = source;
    }
    const decoders = await openDecoders(model, weights, this.settings);
    this.swapsWaiting++;
    try {
      await this.exclusive(async () => {
        const old = this.sessions();
        this.decoder = decoders.decoder;
        this.openSharing = decoders.openSharing;
        this.sharing = new Map();
        this.inPlace = undefined;
        this.model = model;
        this.versionValue = next;
        await releaseAll(old);
      });
    } finally {
      this.swapsWaiting--;
    }
    return next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exclusive(() => releaseAll(this.sessions()));
  }

  /** The sessions open now: the decoder, and the shared-slot ones once they were needed. */
  private sessions(): Array<DecoderSession | Promise<DecoderSession>> {
    return [this.decoder, ...this.sharing.values()];
  }

  private checkRequest(request: OnnxGenerateRequest): void {
    checkSamplingParams(request.sampling);
    const { vocabSize, maxPositions } = this.model.shape;
    if (request.tokens.length === 0) throw new PolicyRequestError('empty_prompt', 'the prompt has no tokens');
    if (request.tokens.length >= maxPositions) {
      throw new PolicyRequestError(
        'prompt_too_long',
        `prompt of ${request.tokens.length} tokens leaves no room under the model's ${maxPositions} positions`,
      );
    }
    for (const t of request.tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= vocabSize)
        throw new PolicyRequestError(
          'bad_token_id',
          `token id ${t} is outside the vocabulary [0, ${vocabSize})`,
        );
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      // Let requests issued in the same tick (Promise.all over episodes) join one batch.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.settings.maxBatchSize);
        await this.exclusive(() => this.runBatch(batch)).catch((error) => {
          for (const p of batch) p.reject(error);
        });
      }
    } finally {
      this.pumping = false;
    }
  }

  /** The model side of a new batch, of the decoder's cache strategy. */
  private openBatch(): DecodeBatch {
    const { padTokenId } = this.model;
    if (this.decoder.layout === 'in-place') {
      const batch = (slots?: PromptSlots) =>
        new InPlaceBatch(
          this.decoder,
          (products) => {
            const open = this.sharing.get(products) ?? this.openSharing!(products);
            this.sharing.set(products, open);
            return open;
          },
          padTokenId,
          this.settings.batchInvariant,
          slots,
        );
      this.inPlace ??= this.settings.sharedPrompts ? new PromptGroupBatch(batch) : batch();
      this.inPlace.reset();
      return this.inPlace;
    }
    return new PaddedBatch(
      this.decoder,
      padTokenId,
      this.settings.kvCache === 'off' ? 'recompute' : 'present',
    );
  }

  /**
   * Generates a batch to the end. Requests that arrive while it runs join after the next step
   * (continuous batching). Each row resolves as soon as it finishes.
   */
  private async runBatch(batch: PendingRequest[]): Promise<void> {
    const version = this.versionValue;
    const { tokenizer, eosTokenIds, shape } = this.model;
    const state = this.openBatch();
    /** The batch's rows, in the order of `state`'s rows. */
    let rows: Row[] = [];

    const resolveRow = (row: Row) => {
      const endsWithEos = row.finish === 'stop' && eosTokenIds.includes(row.generated.at(-1)!);
      row.pending.resolve({
        text: tokenizer.decode(endsWithEos ? row.generated.slice(0, -1) : row.generated),
        tokens: row.generated,
        logprobs: row.logprobs,
        policyLogprobs: row.policyLogprobs,
        promptTokens: row.prompt,
        finishReason: row.finish!,
        policyVersion: version,
      });
    };

    /** One token for each of `rows[first…]` from its logits (`logits(i)` for the i-th); finished rows leave. */
    const sampleRows = (first: number, logits: RowLogits, watch: DecodeWatch | undefined) => {
      const finished: number[] = [];
      for (let b = first; b < rows.length; b++) {
        const row = rows[b]!;
        const rowLogits = logits(b - first);
        const { token, logprob, policyLogprob } = sampleToken(rowLogits, row.sampling, row.rng, row.sequence);
        row.generated.push(token);
        row.logprobs.push(logprob);
        row.policyLogprobs.push(policyLogprob);
        row.sequence.push(token);
        const { onToken, topLogprobs: k } = row.pending.request;
        onToken?.(token, logprob, k ? topLogprobs(rowLogits, row.sampling.temperature ?? 1, k) : undefined);
        row.finish = finishOf(row, token, tokenizer, shape.maxPositions);
        if (row.finish) {
          finished.push(b);
          resolveRow(row);
        }
      }
      watch?.lap('sample');
      if (finished.length > 0) {
        const order = state.remove(finished);
        rows = order.map((b) => rows[b]!);
      }
      watch?.lap('cache');
    };

    const join = async (pendings: PendingRequest[]) => {
      const watch = this.profile?.watch('prefill', pendings.length);
      const fresh = pendings.map((p) => this.newRow(p, eosTokenIds));
      const logits = await state.add(
        fresh.map((r) => r.prompt),
        watch,
      );
      const first = rows.length;
      rows = [...rows, ...fresh];
      sampleRows(first, logits, watch);
    };

    await join(batch);
    while (rows.length > 0) {
      const watch = this.profile?.watch('decode', rows.length);
      const logits = await state.step(
        rows.map((r) => r.generated.at(-1)!),
        watch,
      );
      sampleRows(0, logits, watch);
      const room = this.settings.maxBatchSize - rows.length;
      if (this.swapsWaiting === 0 && room > 0 && this.pending.length > 0)
        await join(this.pending.splice(0, room));
    }
  }

  private newRow(pending: PendingRequest, eosTokenIds: number[]): Row {
    const { tokens, sampling } = pending.request;
    const stopChars = Math.max(0, ...(sampling.stop ?? []).map((s) => s.length));
    return {
      pending,
      // The row keeps its prompt past the call (`promptTokens`): a copy, as a lent record asks.
      prompt: Array.from(tokens),
      sampling,
      rng: new Rng(sampling.seed ?? Math.floor(Math.random() * 2 ** 32)),
      stopIds: new Set([...(pending.request.ignoreEos ? [] : eosTokenIds), ...(sampling.stopTokenIds ?? [])]),
      // A character is at most 4 bytes, and every token spans at least one byte.
      stopWindow: stopChars * 4 + 4,
      generated: [],
      logprobs: [],
      policyLogprobs: [],
      sequence: [...tokens],
    };
  }
}

function finishOf(
  row: Row,
  token: number,
  tokenizer: HuggingFaceTokenizer,
  maxPositions: number,
): FinishReason | undefined {
  if (row.pending.request.signal?.aborted) return 'abort';
  if (row.stopIds.has(token)) return 'stop';
  const stops = row.sampling.stop;
  if (stops && stops.length > 0) {
    const tail = tokenizer.decode(row.generated.slice(-row.stopWindow));
    if (stops.some((s) => s.length > 0 && tail.includes(s))) return 'stop_string';
  }
  if (row.generated.length >= row.sampling.maxTokens) return 'length';
  if (row.prompt.length + row.generated.length >= maxPositions) return 'length';
  return undefined;
}

/**
 * The graph a policy runs for `model`: model.onnx as it is (`present`, `off`), or ToolGym's decoder
 * rebuilt from its weights (`weights`, else model.onnx's) with the in-place cache; then also the
 * in-place graph with shared slots, built when asked for.
 */
function decoderGraphs(
  model: ModelDir,
  weights: DecoderWeights | undefined,
  kvCache: KvCacheMode,
): {
  source: string | Uint8Array;
  sharing?: (products: SharedSlotProducts) => Uint8Array;
  file: string;
} {
  const config = model.toolgym?.decoder;
  const layout: KvCacheLayout =
    kvCache === 'auto' ? (config ? 'in-place' : 'present') : kvCache === 'in-place' ? 'in-place' : 'present';
  if (layout === 'in-place' && !config) {
    throw new PolicyRequestError(
      'bad_settings',
      `onnx policy: kvCache 'in-place' needs a ToolGym decoder (toolgym.json); ${model.dir} has none, use kvCache 'present'`,
    );
  }
  const file = weights ? `${model.dir} (weights)` : model.modelPath;
  if (!config || (layout === 'present' && !weights)) return { source: model.modelPath, file };
  let decoderWeights = weights;
  if (!decoderWeights) {
    try {
      decoderWeights = readDecoderWeights(readFileSync(model.modelPath), config);
    } catch (error) {
      throw new ModelDirError(
        'malformed_model_file',
        file,
        `cannot read the decoder weights: ${(error as Error).message}`,
      );
    }
  }
  const source = buildDecoderOnnx(config, decoderWeights, layout);
  if (layout === 'present') return { source, file };
  return {
    source,
    sharing: (products) => buildDecoderOnnx(config, decoderWeights, layout, { sharedSlots: products }),
    file,
  };
}

/** The session a policy runs, and for the in-place layout how to open the one with shared slots. */
interface Decoders {
  decoder: DecoderSession;
  openSharing?: (products: SharedSlotProducts) => Promise<DecoderSession>;
}

async function openDecoders(
  model: ModelDir,
  weights: DecoderWeights | undefined,
  settings: { executionProvider: ExecutionProviderPreference; threads: number; kvCache: KvCacheMode },
): Promise<Decoders> {
  const { source, sharing, file } = decoderGraphs(model, weights, settings.kvCache);
  const decoder = await openDecoder(model, source, file, settings);
  if (!sharing) return { decoder };
  return { decoder, openSharing: (products) => openDecoder(model, sharing(products), file, settings) };
}

async function releaseAll(sessions: Array<DecoderSession | Promise<DecoderSession>>): Promise<void> {
  await Promise.all(sessions.map(async (s) => (await s).release()));
}

async function openDecoder(
  model: ModelDir,
  source: string | Uint8Array,
  file: string,
  settings: { executionProvider: ExecutionProviderPreference; threads: number },
): Promise<DecoderSession> {
  let created: Awaited<ReturnType<typeof createInferenceSession>>;
  try {
    created = await createInferenceSession(source, settings.executionProvider, {
      intraOpNumThreads: settings.threads,
      interOpNumThreads: 1,
      // A spinning pool thread holds its core between kernels: on a shared CPU that doubled the CPU
      // time of a decode step and slowed its wall time too (`pnpm bench shared-slots --threads 2,2-nospin`).
      ...(settings.threads > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    });
  } catch (error) {
    if (error instanceof ExecutionProviderError) throw error;
    throw new ModelDirError(
      'malformed_model_file',
      file,
      `onnxruntime cannot load the model: ${(error as Error).message}`,
    );
  }
  try {
    return new DecoderSession(created.session, model.shape, created.choice);
  } catch (error) {
    await created.session.release();
    throw new ModelDirError('malformed_model_file', file, (error as Error).message);
  }
}

/** `createOnnxPolicy({ model: dir })` — the factory behind the `onnx:<dir>` policy spec. */
export function createOnnxPolicy(settings: OnnxPolicySettings): Promise<OnnxPolicy> {
  return OnnxPolicy.create(settings);
}
