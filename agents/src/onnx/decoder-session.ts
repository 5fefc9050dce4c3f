/**
 * One forward step of a decoder in the Optimum decoder-with-past convention, on onnxruntime: feeds
 * input_ids / attention_mask / position_ids / past_key_values.{i}.key|value (only the inputs the
 * model declares) and returns the logits and the grown KV cache. Works for ToolGym's built model and
 * exported Hugging Face decoders (GQA caches have num_key_value_heads heads; float16 caches pass
 * through untouched and float16 logits are widened to float32).
 */
import * as ort from 'onnxruntime-node';
import type { DecodeWatch } from './decode-profile.ts';
import type { ExecutionProviderChoice } from './execution-provider.ts';
import type { DecoderShape } from './model-dir.ts';

/** The KV cache of a batch: per layer a key and a value tensor [batch, kvHeads, length, headDim]. */
export interface KvCache {
  /** In input order: layer 0 key, layer 0 value, layer 1 key, … */
  tensors: ort.Tensor[];
  batch: number;
  length: number;
}

export interface ForwardInput {
  batch: number;
  /** [batch, seq] row-major. */
  inputIds: number[];
  /** [batch, past + seq] row-major, 1 = attend, 0 = padding. */
  attentionMask: number[];
  /** [batch, seq] row-major. */
  positionIds: number[];
  /** Absent = empty cache (full recompute). */
  past?: KvCache;
}

export interface ForwardOutput {
  /** [batch, logitsSeq, vocab] as float32. */
  logits: Float32Array;
  vocab: number;
  /** Positions with logits: seq, or 1 when the model takes `num_logits_to_keep` (only the last position). */
  logitsSeq: number;
  present: KvCache;
}

type CacheDtype = 'float32' | 'float16';

const LOGITS_TO_KEEP_INPUTS = ['num_logits_to_keep', 'logits_to_keep'];

export class DecoderSession {
  private readonly inputNames: Set<string>;
  private readonly cacheDtype: CacheDtype;

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
      (n) => !known.has(n) && !/^past_key_values\.\d+\.(key|value)$/.test(n),
    );
    if (unknown.length > 0) {
      throw new Error(
        `model.onnx has inputs the onnx policy does not know how to feed: ${unknown.join(', ')}`,
      );
    }
    for (let i = 0; i < shape.numLayers; i++) {
      if (
        !this.inputNames.has(`past_key_values.${i}.key`) ||
        !session.outputNames.includes(`present.${i}.key`)
      ) {
        throw new Error(
          `model.onnx and config.json disagree: config.json says ${shape.numLayers} layers, model.onnx lacks layer ${i}'s KV cache`,
        );
      }
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

  /** One forward call; `watch` (profiling) gets the 'prepare' and 'run' laps. */
  async forward(input: ForwardInput, watch?: DecodeWatch): Promise<ForwardOutput> {
    const { batch } = input;
    const seq = input.inputIds.length / batch;
    const past = input.past ?? this.emptyCache(batch);
    const total = past.length + seq;
    if (input.attentionMask.length !== batch * total) {
      throw new Error(
        `internal: attention_mask has ${input.attentionMask.length} values, expected ${batch}×${total}`,
      );
    }
    const int64 = (values: number[], dims: number[]) =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from(values, (v) => BigInt(v)),
        dims,
      );
    const feeds: Record<string, ort.Tensor> = { input_ids: int64(input.inputIds, [batch, seq]) };
    if (this.inputNames.has('attention_mask'))
      feeds.attention_mask = int64(input.attentionMask, [batch, total]);
    if (this.inputNames.has('position_ids')) feeds.position_ids = int64(input.positionIds, [batch, seq]);
    // Newer exports can skip the logits of all but the last position (the prompt's other logits are unused).
    for (const name of LOGITS_TO_KEEP_INPUTS) {
      if (this.inputNames.has(name)) feeds[name] = new ort.Tensor('int64', BigInt64Array.from([1n]), []);
    }
    for (let i = 0; i < this.shape.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = past.tensors[2 * i]!;
      feeds[`past_key_values.${i}.value`] = past.tensors[2 * i + 1]!;
    }
    watch?.lap('prepare');
    const out = await this.session.run(feeds);
    watch?.lap('run');
    const logitsTensor = out.logits;
    if (!logitsTensor) throw new Error("model.onnx has no 'logits' output");
    const vocab = logitsTensor.dims[2]!;
    const logitsSeq = logitsTensor.dims[1]!;
    const present: ort.Tensor[] = [];
    for (let i = 0; i < this.shape.numLayers; i++)
      present.push(out[`present.${i}.key`]!, out[`present.${i}.value`]!);
    return {
      logits: toFloat32(logitsTensor),
      vocab,
      logitsSeq,
      present: { tensors: present, batch, length: total },
    };
  }

  /** Keeps only the given batch rows of a cache (rows that finished generating are dropped). */
  selectRows(cache: KvCache, rows: number[]): KvCache {
    const tensors = cache.tensors.map((t) => {
      const [, heads, length, headDim] = t.dims as [number, number, number, number];
      const rowSize = heads * length * headDim;
      const data = t.data as Float32Array | Uint16Array;
      const kept = new (data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(
        rows.length * rowSize,
      );
      rows.forEach((row, i) => {
        kept.set(data.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize);
      });
      return new ort.Tensor(t.type as 'float32', kept as Float32Array, [rows.length, heads, length, headDim]);
    });
    return { tensors, batch: rows.length, length: cache.length };
  }

  /**
   * Stacks two caches along the batch axis, left-padding the shorter one with zeros along the
   * sequence axis (those positions get attention_mask 0), for rows that join a running batch.
   */
  concatRows(a: KvCache, b: KvCache): KvCache {
    const length = Math.max(a.length, b.length);
    const tensors = a.tensors.map((ta, i) => {
      const tb = b.tensors[i]!;
      const [, heads, , headDim] = ta.dims as [number, number, number, number];
      const data = ta.data as Float32Array | Uint16Array;
      const Kind = data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor;
      const merged = new Kind((a.batch + b.batch) * heads * length * headDim);
      let rowOffset = 0;
      for (const [cache, t] of [
        [a, ta],
        [b, tb],
      ] as const) {
        const src = t.data as Float32Array | Uint16Array;
        const shift = (length - cache.length) * headDim;
        const srcBlock = cache.length * headDim;
        for (let r = 0; r < cache.batch; r++) {
          for (let h = 0; h < heads; h++) {
            const from = (r * heads + h) * srcBlock;
            const to = ((rowOffset + r) * heads + h) * length * headDim + shift;
            merged.set(src.subarray(from, from + srcBlock), to);
          }
        }
        rowOffset += cache.batch;
      }
      return new ort.Tensor(ta.type as 'float32', merged as Float32Array, [
        a.batch + b.batch,
        heads,
        length,
        headDim,
      ]);
    });
    return { tensors, batch: a.batch + b.batch, length };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
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
