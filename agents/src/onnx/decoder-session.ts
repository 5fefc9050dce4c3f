/**
 * One forward call of a decoder on onnxruntime, in either KV-cache layout (decoder-graph.ts):
 * - `present`, the Optimum decoder-with-past convention of exported Hugging Face decoders and of
 *   ToolGym's model.onnx: feeds input_ids / attention_mask / position_ids /
 *   past_key_values.{i}.key|value (only the inputs the model declares) and returns the logits and the
 *   grown cache (`present.{i}.*`). GQA caches have num_key_value_heads heads; float16 caches pass
 *   through untouched and float16 logits are widened to float32.
 * - `in-place`, ToolGym's generation graph: the past is the engine's fixed-capacity cache and only
 *   this call's keys/values come back (`new_key_values.{i}.*`), see in-place-batch.ts.
 */
import * as ort from 'onnxruntime-node';
import type { DecodeWatch } from './decode-profile.ts';
import { type KvCacheLayout, newKeyValueNames, sharedKeyValueNames } from '../model/decoder-graph.ts';
import type { ExecutionProviderChoice } from './execution-provider.ts';
import type { DecoderShape } from '../model/model-directory.ts';

/** Key/value tensors of a batch: per layer a key and a value [batch, kvHeads, length, headDim]. */
export interface KvCache {
  /** In input order: layer 0 key, layer 0 value, layer 1 key, … */
  tensors: ort.Tensor[];
  batch: number;
  length: number;
}

/** int64 feed values: plain numbers, or a ready BigInt64Array (no conversion). */
export type Int64Values = readonly number[] | BigInt64Array;

export interface ForwardInput {
  batch: number;
  /** [batch, seq] row-major. */
  inputIds: Int64Values;
  /** [batch, past + seq] row-major, 1 = attend, 0 = padding (or an unused cache slot). */
  attentionMask: Int64Values;
  /** [batch, seq] row-major. */
  positionIds: Int64Values;
  /** Absent = empty cache (full recompute, or a prefill). */
  past?: KvCache;
  /**
   * In-place graphs with shared slots: per layer a key and a value [kvHeads, shared, headDim], slots
   * that `attentionMask`'s first `shared` columns give to the rows that own them.
   */
  shared?: { tensors: ort.Tensor[]; length: number };
}

export interface ForwardOutput {
  /** [batch, logitsSeq, vocab] as float32. */
  logits: Float32Array;
  vocab: number;
  /** Positions with logits: seq, or 1 when the model returns only the last position's. */
  logitsSeq: number;
  /** `present` layout: the whole cache, past and this call; `in-place`: this call's positions only. */
  keyValues: KvCache;
}

type CacheDtype = 'float32' | 'float16';

const LOGITS_TO_KEEP_INPUTS = ['num_logits_to_keep', 'logits_to_keep'];

export class DecoderSession {
  /** Which cache convention the graph follows, read from its output names. */
  readonly layout: KvCacheLayout;
  /** An in-place graph with shared slots (`shared_key_values.*` inputs). */
  readonly sharesSlots: boolean;
  private readonly inputNames: Set<string>;
  private readonly cacheDtype: CacheDtype;
  private readonly outputKeyValueNames: string[];

  constructor(
    readonly session: ort.InferenceSession,
    readonly shape: DecoderShape,
    readonly executionProvider: ExecutionProviderChoice,
  ) {
    this.inputNames = new Set(session.inputNames);
    for (const required of ['input_ids', 'past_key_values.0.key']) {
      if (!this.inputNames.has(required)) {
        throw new Error(
          `model.onnx has no '${required}' input: export the decoder *with past* (optimum-cli export onnx --task text-generation-with-past)`,
        );
      }
    }
    const known = new Set(['input_ids', 'attention_mask', 'position_ids', ...LOGITS_TO_KEEP_INPUTS]);
    const unknown = session.inputNames.filter(
      (n) => !known.has(n) && !/^(past|shared)_key_values\.\d+\.(key|value)$/.test(n),
    );
    if (unknown.length > 0) {
      throw new Error(
        `model.onnx has inputs the onnx policy does not know how to feed: ${unknown.join(', ')}`,
      );
    }
    this.layout = session.outputNames.includes(newKeyValueNames(0).key) ? 'in-place' : 'present';
    this.sharesSlots = this.inputNames.has(sharedKeyValueNames(0).key);
    this.outputKeyValueNames = [];
    for (let i = 0; i < shape.numLayers; i++) {
      const names =
        this.layout === 'present'
          ? { key: `present.${i}.key`, value: `present.${i}.value` }
          : newKeyValueNames(i);
      if (!this.inputNames.has(`past_key_values.${i}.key`) || !session.outputNames.includes(names.key)) {
        throw new Error(
          `model.onnx and config.json disagree: config.json says ${shape.numLayers} layers, model.onnx lacks layer ${i}'s KV cache`,
        );
      }
      this.outputKeyValueNames.push(names.key, names.value);
    }
    const meta = (session as unknown as { inputMetadata?: Array<{ name: string; type?: string }> })
      .inputMetadata;
    const pastType = meta?.find((m) => m.name === 'past_key_values.0.key')?.type;
    this.cacheDtype = pastType === 'float16' ? 'float16' : 'float32';
  }

  emptyCache(batch: number): KvCache {
    const { numLayers, numKvHeads, headDim } = this.shape;
    const dims = [batch, numKvHeads, 0, headDim];
    const tensors: ort.Tensor[] = [];
    for (let i = 0; i < numLayers * 2; i++) {
      tensors.push(
        this.cacheDtype === 'float16'
          ? new ort.Tensor('float16', new Uint16Array(0), dims)
          : new ort.Tensor('float32', new Float32Array(0), dims),
      );
    }
    return { tensors, batch, length: 0 };
  }

  private noSharedSlots(): NonNullable<ForwardInput['shared']> {
    const { numLayers, numKvHeads, headDim } = this.shape;
    const empty = new ort.Tensor('float32', new Float32Array(0), [numKvHeads, 0, headDim]);
    return { tensors: Array.from({ length: 2 * numLayers }, () => empty), length: 0 };
  }

  /** One forward call; `watch` (profiling) gets the 'prepare' and 'run' laps. */
  async forward(input: ForwardInput, watch?: DecodeWatch): Promise<ForwardOutput> {
    const { batch } = input;
    const seq = input.inputIds.length / batch;
    const past = input.past ?? this.emptyCache(batch);
    const shared = input.shared ?? (this.sharesSlots ? this.noSharedSlots() : undefined);
    const total = (shared?.length ?? 0) + past.length + seq;
    if (input.attentionMask.length !== batch * total) {
      throw new Error(
        `internal: attention_mask has ${input.attentionMask.length} values, expected ${batch}×${total}`,
      );
    }
    const feeds: Record<string, ort.Tensor> = { input_ids: int64Tensor(input.inputIds, [batch, seq]) };
    if (this.inputNames.has('attention_mask'))
      feeds.attention_mask = int64Tensor(input.attentionMask, [batch, total]);
    if (this.inputNames.has('position_ids'))
      feeds.position_ids = int64Tensor(input.positionIds, [batch, seq]);
    // Newer exports can skip the logits of all but the last position (the prompt's other logits are unused).
    for (const name of LOGITS_TO_KEEP_INPUTS) {
      if (this.inputNames.has(name)) feeds[name] = new ort.Tensor('int64', BigInt64Array.from([1n]), []);
    }
    for (let i = 0; i < this.shape.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = past.tensors[2 * i]!;
      feeds[`past_key_values.${i}.value`] = past.tensors[2 * i + 1]!;
      if (shared) {
        if (!this.sharesSlots) throw new Error('internal: shared slots fed to a graph without them');
        feeds[sharedKeyValueNames(i).key] = shared.tensors[2 * i]!;
        feeds[sharedKeyValueNames(i).value] = shared.tensors[2 * i + 1]!;
      }
    }
    watch?.lap('prepare');
    const out = await this.session.run(feeds);
    watch?.lap('run');
    const logitsTensor = out.logits;
    if (!logitsTensor) throw new Error("model.onnx has no 'logits' output");
    return {
      logits: toFloat32(logitsTensor),
      vocab: logitsTensor.dims[2]!,
      logitsSeq: logitsTensor.dims[1]!,
      keyValues: {
        tensors: this.outputKeyValueNames.map((name) => out[name]!),
        batch,
        length: this.layout === 'present' ? total : seq,
      },
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function int64Tensor(values: Int64Values, dims: number[]): ort.Tensor {
  if (values instanceof BigInt64Array) return new ort.Tensor('int64', values, dims);
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]!);
  return new ort.Tensor('int64', data, dims);
}

function toFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const half = tensor.data as Uint16Array;
    const out = new Float32Array(half.length);
    for (let i = 0; i < half.length; i++) out[i] = halfToFloat(half[i]!);
    return out;
  }
  throw new Error(`model.onnx: unsupported logits type ${tensor.type} (float32 or float16 expected)`);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
