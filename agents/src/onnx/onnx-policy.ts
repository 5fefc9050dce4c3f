/**
 * The `onnx` policy: a decoder-only language model in the Optimum export convention on
 * onnxruntime-node, in process. ToolGym's built-in model and exported Hugging Face models load through
 * the same code (`readModelDir` → `DecoderSession`).
 *
 * Generation: requests that arrive together are generated as one batch, left-padded (attention_mask
 * 0 on the padding, position_ids counting real tokens only), with a KV cache; requests that arrive
 * while it runs join it (continuous batching) and rows that finish leave it. Each request has its own
 * seeded generator, so a request samples the same tokens alone or in any batch. `loadWeights` swaps
 * the model between batches and increases `version`.
 */
import { Rng } from '@toolgym/protocol';
import type { FinishReason } from '@toolgym/protocol';
import { ChatTemplate } from '../chat/chat-template.ts';
import type { DecoderWeights } from '../model/decoder-config.ts';
import type { GenerateRequest, GenerateResult, Policy, SamplingParams } from '../policy.ts';
import { buildDecoderOnnx } from './decoder-graph.ts';
import { DecoderSession, type ForwardOutput, type KvCache } from './decoder-session.ts';
import { ModelDirError, PolicyRequestError } from './errors.ts';
import {
  createInferenceSession,
  type ExecutionProviderChoice,
  ExecutionProviderError,
  type ExecutionProviderPreference,
} from './execution-provider.ts';
import type { HuggingFaceTokenizer } from './hf-tokenizer.ts';
import { type ModelDir, readModelDir } from './model-dir.ts';
import { checkSamplingParams, sampleToken } from './sampler.ts';
import { type TopLogprob, topLogprobs } from './top-logprobs.ts';

export interface OnnxPolicySettings {
  /** Model directory (config.json, model.onnx, tokenizer.json, …). */
  model: string;
  /** `auto` (default): CUDA when its provider loads, else CPU. */
  executionProvider?: ExecutionProviderPreference;
  /** Most sequences generated in one batch (default 64). */
  maxBatchSize?: number;
  /** Reuse keys/values of earlier positions (default true). Off = recompute the whole sequence every step (for benchmarks and tests). */
  kvCache?: boolean;
  /**
   * onnxruntime intra-op threads (default 1). The small model's kernels are too small for
   * intra-op parallelism to pay, and rollouts share the CPU with environments: measured on the 2-core
   * dev machine under load, 1 thread ran a decode step 2–3× faster than onnxruntime's default
   * (one per core). Raise it for large exported models on an otherwise idle CPU.
   */
  threads?: number;
}

/** Called for every sampled token of a request, in order (streaming); `top` when `topLogprobs` is asked. */
export type TokenListener = (token: number, logprob: number, top?: TopLogprob[]) => void;

/** A token-mode request, with the extras the OpenAI-compatible server needs. */
export interface OnnxGenerateRequest {
  tokens: number[];
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
  prompt: number[];
  sampling: SamplingParams;
  rng: Rng;
  stopIds: Set<number>;
  /** Tokens of the stop strings' longest possible span, for the tail check. */
  stopWindow: number;
  generated: number[];
  logprobs: number[];
  /** Every position so far, left padding included (pad ids), aligned with `mask`. */
  sequence: number[];
  /** Attention mask over every position so far (padding = 0). */
  mask: number[];
  finish?: FinishReason;
}

export class OnnxPolicy implements Policy {
  readonly id: string;
  private versionValue: number;
  private model: ModelDir;
  private decoder: DecoderSession;
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

  private constructor(settings: OnnxPolicy['settings'], model: ModelDir, decoder: DecoderSession) {
    this.settings = settings;
    this.model = model;
    this.decoder = decoder;
    this.id = `onnx:${settings.model}`;
    this.versionValue = model.toolgym?.policyVersion ?? 0;
  }

  static async create(settings: OnnxPolicySettings): Promise<OnnxPolicy> {
    const full: Required<OnnxPolicySettings> = {
      executionProvider: 'auto',
      maxBatchSize: 64,
      kvCache: true,
      threads: 1,
      ...settings,
    };
    for (const key of ['maxBatchSize', 'threads'] as const) {
      if (!Number.isInteger(full[key]) || full[key] < 1) {
        throw new PolicyRequestError(
          'bad_settings',
          `onnx policy: ${key} must be a positive integer, got ${full[key]}`,
        );
      }
    }
    const model = readModelDir(settings.model);
    const decoder = await openDecoder(model, model.modelPath, full);
    return new OnnxPolicy(full, model, decoder);
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
      this.template = new ChatTemplate(this.model.chatTemplate, {}, `${this.model.dir}/tokenizer_config.json`);
    const prompt = this.template.render(request.messages, request.tools, { addGenerationPrompt: true });
    return this.enqueue({
      tokens: this.model.tokenizer.encode(prompt),
      sampling: request.sampling,
      ...(request.signal ? { signal: request.signal } : {}),
    });
  }

  async generateBatch(
    requests: Array<Extract<GenerateRequest, { tokens: number[] }>>,
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
    let modelSource: string | Uint8Array;
    if (typeof source === 'string') {
      model = readModelDir(source);
      modelSource = model.modelPath;
    } else {
      const decoderConfig = this.model.toolgym?.decoder;
      if (!decoderConfig) {
        throw new Error(
          `loadWeights: ${this.model.dir} has no toolgym.json decoder config; load a model directory instead of a weights object`,
        );
      }
      modelSource = buildDecoderOnnx(decoderConfig, source);
    }
    const decoder = await openDecoder(model, modelSource, this.settings);
    this.swapsWaiting++;
    try {
      await this.exclusive(async () => {
        const old = this.decoder;
        this.decoder = decoder;
        this.model = model;
        this.versionValue = next;
        await old.release();
      });
    } finally {
      this.swapsWaiting--;
    }
    return next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exclusive(() => this.decoder.release());
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

  /**
   * Generates a batch to the end. In KV-cache mode, requests that arrive while it runs join after the
   * next step (continuous batching): they are prefilled on their own and their cache is merged in,
   * left-padded to a common length. Each row resolves as soon as it finishes.
   */
  private async runBatch(batch: PendingRequest[]): Promise<void> {
    const decoder = this.decoder;
    const version = this.versionValue;
    const { tokenizer, eosTokenIds, padTokenId, shape } = this.model;

    const resolveRow = (row: Row) => {
      const endsWithEos = row.finish === 'stop' && eosTokenIds.includes(row.generated.at(-1)!);
      row.pending.resolve({
        text: tokenizer.decode(endsWithEos ? row.generated.slice(0, -1) : row.generated),
        tokens: row.generated,
        logprobs: row.logprobs,
        promptTokens: row.prompt,
        finishReason: row.finish!,
        policyVersion: version,
      });
    };

    // One token for every row from its last position's logits; finished rows leave the batch.
    const sampleStep = (group: Row[], out: ForwardOutput): { rows: Row[]; cache: KvCache } => {
      group.forEach((row, b) => {
        const offset = (b * out.logitsSeq + out.logitsSeq - 1) * out.vocab;
        const logits = out.logits.subarray(offset, offset + out.vocab);
        const { token, logprob } = sampleToken(logits, row.sampling, row.rng, row.sequence);
        row.generated.push(token);
        row.logprobs.push(logprob);
        row.sequence.push(token);
        row.mask.push(1);
        const { onToken, topLogprobs: k } = row.pending.request;
        onToken?.(token, logprob, k ? topLogprobs(logits, row.sampling.temperature ?? 1, k) : undefined);
        row.finish = finishOf(row, token, tokenizer, shape.maxPositions);
      });
      const keep = group.flatMap((r, b) => (r.finish ? [] : [b]));
      for (const r of group) if (r.finish) resolveRow(r);
      const cache = keep.length < group.length ? decoder.selectRows(out.present, keep) : out.present;
      return { rows: keep.map((b) => group[b]!), cache };
    };

    // Prefill: the left-padded prompts in one call.
    const prefill = async (pendings: PendingRequest[]) => {
      const longest = Math.max(...pendings.map((p) => p.request.tokens.length));
      const group = pendings.map((p) => this.newRow(p, longest, padTokenId, eosTokenIds));
      const out = await decoder.forward({
        batch: group.length,
        inputIds: group.flatMap((r) => r.sequence),
        attentionMask: group.flatMap((r) => r.mask),
        positionIds: group.flatMap((r) => positionsOf(r.mask)),
      });
      return sampleStep(group, out);
    };

    let { rows, cache } = await prefill(batch);
    while (rows.length > 0) {
      const out = this.settings.kvCache
        ? await decoder.forward({
            batch: rows.length,
            inputIds: rows.map((r) => r.generated.at(-1)!),
            attentionMask: rows.flatMap((r) => r.mask),
            positionIds: rows.map((r) => positionsOf(r.mask).at(-1)!),
            past: cache,
          })
        : // Full recompute: the whole (left-padded) sequence again, with an empty cache.
          await decoder.forward({
            batch: rows.length,
            inputIds: rows.flatMap((r) => r.sequence),
            attentionMask: rows.flatMap((r) => r.mask),
            positionIds: rows.flatMap((r) => positionsOf(r.mask)),
          });
      ({ rows, cache } = sampleStep(rows, out));

      const room = this.settings.maxBatchSize - rows.length;
      if (this.settings.kvCache && this.swapsWaiting === 0 && room > 0 && this.pending.length > 0) {
        const joined = await prefill(this.pending.splice(0, room));
        if (rows.length === 0) ({ rows, cache } = joined);
        else if (joined.rows.length > 0) {
          const length = Math.max(cache.length, joined.cache.length);
          for (const r of rows) leftPad(r, length - cache.length, padTokenId);
          for (const r of joined.rows) leftPad(r, length - joined.cache.length, padTokenId);
          cache = decoder.concatRows(cache, joined.cache);
          rows = [...rows, ...joined.rows];
        }
      }
    }
  }

  private newRow(pending: PendingRequest, longest: number, padTokenId: number, eosTokenIds: number[]): Row {
    const { tokens, sampling } = pending.request;
    const stopChars = Math.max(0, ...(sampling.stop ?? []).map((s) => s.length));
    const padding = longest - tokens.length;
    return {
      pending,
      prompt: tokens,
      sampling,
      rng: new Rng(sampling.seed ?? Math.floor(Math.random() * 2 ** 32)),
      stopIds: new Set([...(pending.request.ignoreEos ? [] : eosTokenIds), ...(sampling.stopTokenIds ?? [])]),
      // A character is at most 4 bytes, and every token spans at least one byte.
      stopWindow: stopChars * 4 + 4,
      generated: [],
      logprobs: [],
      sequence: [...new Array(padding).fill(padTokenId), ...tokens],
      mask: [...new Array(padding).fill(0), ...tokens.map(() => 1)],
    };
  }
}

/** Shifts a row right by `count` padding positions (its cache is left-padded to match). */
function leftPad(row: Row, count: number, padTokenId: number): void {
  if (count === 0) return;
  row.sequence.unshift(...new Array(count).fill(padTokenId));
  row.mask.unshift(...new Array(count).fill(0));
}

/** Position ids for a left-padded row: real tokens count 0, 1, 2, …; padding sits at 0. */
function positionsOf(mask: number[]): number[] {
  let next = 0;
  return mask.map((m) => (m === 1 ? next++ : 0));
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

async function openDecoder(
  model: ModelDir,
  source: string | Uint8Array,
  settings: { executionProvider: ExecutionProviderPreference; threads: number },
): Promise<DecoderSession> {
  let created: Awaited<ReturnType<typeof createInferenceSession>>;
  try {
    created = await createInferenceSession(source, settings.executionProvider, {
      intraOpNumThreads: settings.threads,
      interOpNumThreads: 1,
    });
  } catch (error) {
    if (error instanceof ExecutionProviderError) throw error;
    throw new ModelDirError(
      'malformed_model_file',
      typeof source === 'string' ? source : `${model.dir} (weights)`,
      `onnxruntime cannot load the model: ${(error as Error).message}`,
    );
  }
  try {
    return new DecoderSession(created.session, model.shape, created.choice);
  } catch (error) {
    await created.session.release();
    const file = typeof source === 'string' ? source : `${model.dir} (weights)`;
    throw new ModelDirError('malformed_model_file', file, (error as Error).message);
  }
}

/** `createOnnxPolicy({ model: dir })` — the factory behind the `onnx:<dir>` policy spec. */
export function createOnnxPolicy(settings: OnnxPolicySettings): Promise<OnnxPolicy> {
  return OnnxPolicy.create(settings);
}
