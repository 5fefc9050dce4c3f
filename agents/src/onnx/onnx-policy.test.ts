import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initDecoderWeights } from '../model/init-weights.ts';
import { referenceForward } from '../model/reference-forward.ts';
import type { GenerateResult } from '../policy.ts';
import { ModelDirError } from '../model/model-directory.ts';
import { PolicyRequestError } from './errors.ts';
import { OnnxPolicy } from './onnx-policy.ts';
import { checkSamplingParams, explorationChoices, logSoftmax } from './sampler.ts';
import { createTinyTestModel, TINY_TEST_CONFIG } from './tiny-test-model.ts';

/** Logprobs from onnxruntime (float32) vs the float64 TypeScript reference. */
const LOGPROB_TOLERANCE = 1e-4;

let model: Awaited<ReturnType<typeof createTinyTestModel>>;
let policy: OnnxPolicy;
const dirs: string[] = [];

beforeAll(async () => {
  model = await createTinyTestModel();
  dirs.push(model.dir);
  policy = await OnnxPolicy.create({ model: model.dir });
});
afterAll(async () => {
  await policy.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const prompt = (text: string) =>
  policy.tokenizer.encode(`<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`);
/** Fixed-length generation: eos does not end the sequence (vLLM `ignore_eos`). */
const noEos = { ignoreEos: true };

describe('onnx policy', () => {
  it('reports the execution provider it chose, and why', () => {
    expect(['cpu', 'cuda']).toContain(policy.executionProvider.provider);
    expect(policy.executionProvider.reason.length).toBeGreaterThan(0);
    expect(policy.id).toBe(`onnx:${model.dir}`);
    expect(policy.chatTemplate).toContain('<tool_call>');
  });

  it('same seed gives the same tokens; another seed gives others', async () => {
    const sampling = { maxTokens: 20, temperature: 1, seed: 42 };
    const a = await policy.enqueue({ tokens: prompt('hello'), sampling });
    const b = await policy.enqueue({ tokens: prompt('hello'), sampling });
    const c = await policy.enqueue({ tokens: prompt('hello'), sampling: { ...sampling, seed: 43 } });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.logprobs).toEqual(b.logprobs);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  it('policy logprobs equal log-softmax(logits / temperature) of the reference model; logprobs renormalise it over the top-k / top-p nucleus', async () => {
    for (const temperature of [1, 0.7]) {
      const tokens = prompt('check logprobs');
      const r = await policy.generate({
        tokens,
        sampling: { maxTokens: 12, temperature, seed: 3, topP: 0.9, topK: 50 },
      });
      const full = [...tokens, ...r.tokens!];
      const logits = referenceForward(TINY_TEST_CONFIG, model.weights, { inputIds: [full] })[0]!;
      r.tokens!.forEach((token, i) => {
        const row = logSoftmax(logits[tokens.length - 1 + i]!, temperature);
        expect(Math.abs(r.policyLogprobs![i]! - row[token]!)).toBeLessThan(LOGPROB_TOLERANCE);
        // The nucleus: the top 50, then the smallest head of them holding 0.9 of the mass.
        const sorted = [...row].sort((a, b) => b - a).slice(0, 50);
        let mass = 0;
        for (const lp of sorted) {
          if (mass >= 0.9) break;
          mass += Math.exp(lp);
        }
        expect(Math.abs(r.logprobs![i]! - (row[token]! - Math.log(mass)))).toBeLessThan(LOGPROB_TOLERANCE);
      });
    }
  });

  it('ε-exploration: after a decision token, explored tokens come from the set, with the mixture as their logprob', async () => {
    const callOpen = policy.tokenizer.encode('<tool_call>')[0]!;
    const tokens = [...prompt('explore'), callOpen];
    const explore = { epsilon: 1, tokenIds: [120, 121, 122], afterTokenIds: [callOpen] };
    const firsts = new Set<number>();
    for (let seed = 0; seed < 24; seed++) {
      const r = await policy.generate({ tokens, sampling: { maxTokens: 3, temperature: 1, seed, explore } });
      firsts.add(r.tokens![0]!);
      const logits = referenceForward(TINY_TEST_CONFIG, model.weights, { inputIds: [tokens] })[0]!;
      // ε = 1: drawn uniformly from the three, whatever the policy says.
      expect(r.logprobs![0]!).toBeCloseTo(Math.log(1 / 3), 9);
      expect(Math.abs(r.policyLogprobs![0]! - logSoftmax(logits.at(-1)!, 1)[r.tokens![0]!]!)).toBeLessThan(
        LOGPROB_TOLERANCE,
      );
    }
    expect([...firsts].sort()).toEqual([120, 121, 122]);
    // among 'mentioned': only the set's tokens already in the sequence ('x' = 120 is in 'explore'),
    // and the whole set when none is.
    const mentioned = { ...explore, among: 'mentioned' as const };
    const withMention = new Set<number>();
    const withoutMention = new Set<number>();
    const bare = [...prompt('abc'), callOpen];
    for (let seed = 0; seed < 24; seed++) {
      const sampling = { maxTokens: 1, temperature: 1, seed, explore: mentioned };
      withMention.add((await policy.generate({ tokens, sampling })).tokens![0]!);
      withoutMention.add((await policy.generate({ tokens: bare, sampling })).tokens![0]!);
    }
    expect([...withMention]).toEqual([120]);
    expect([...withoutMention].sort()).toEqual([120, 121, 122]);
    // ε = 0, or greedy decoding, leave the policy's choice alone.
    const plain = await policy.generate({ tokens, sampling: { maxTokens: 3, temperature: 0 } });
    const greedy = await policy.generate({ tokens, sampling: { maxTokens: 3, temperature: 0, explore } });
    expect(greedy.tokens).toEqual(plain.tokens);
    await expect(
      policy.generate({ tokens, sampling: { maxTokens: 3, explore: { ...explore, epsilon: 2 } } }),
    ).rejects.toThrow(/explore\.epsilon must be in \[0, 1\]/);
  });

  it("exploration among 'untried': the mentioned tokens not yet chosen at a decision point", () => {
    const [open, f, g, h, answer] = [1, 10, 11, 12, 13];
    const explore = { epsilon: 1, tokenIds: [f, g, h, answer], afterTokenIds: [open], among: 'untried' as const };
    const prompt = [5, g, 6, f, 7]; // names g and f, not h or answer
    expect(explorationChoices(explore, [...prompt, open])).toEqual([f, g]);
    expect(explorationChoices(explore, [...prompt, open, f, 8, 9, open])).toEqual([g]);
    // every mentioned token tried: nothing to explore (the policy decides); none mentioned: the whole set.
    expect(explorationChoices(explore, [...prompt, open, f, open, g, open])).toEqual([]);
    expect(explorationChoices(explore, [5, 6, open])).toEqual([f, g, h, answer]);
    expect(explorationChoices({ ...explore, among: 'mentioned' }, [...prompt, open, f, open])).toEqual([f, g]);
  });

  it('exploration from the n-th decision point: earlier ones are left to the policy', () => {
    const [open, f, g, h] = [1, 10, 11, 12];
    const explore = { epsilon: 1, tokenIds: [f, g, h], afterTokenIds: [open], among: 'untried' as const, fromDecision: 2 };
    const prompt = [5, g, 6, f, 7];
    expect(explorationChoices(explore, [...prompt, open])).toEqual([]);
    expect(explorationChoices(explore, [...prompt, open, f, 8, open])).toEqual([g]);
    expect(explorationChoices({ ...explore, fromDecision: 3 }, [...prompt, open, f, 8, open])).toEqual([]);
    expect(() => checkSamplingParams({ maxTokens: 3, explore: { ...explore, fromDecision: 0 } })).toThrow(
      /explore\.fromDecision must be an integer ≥ 1, got 0/,
    );
  });

  it('batched generation agrees with one-at-a-time generation (left padding of different prompt lengths)', async () => {
    const requests = ['a', 'a much longer prompt than the first', 'mid length', 'x'].map((text, i) => ({
      tokens: prompt(text),
      sampling: { maxTokens: 16, temperature: i === 3 ? 0 : 1, seed: 100 + i },
    }));
    const batched = await policy.generateBatch(requests);
    for (const [i, request] of requests.entries()) {
      const single = await policy.generate(request);
      expect(batched[i]!.tokens).toEqual(single.tokens);
      expect(batched[i]!.finishReason).toBe(single.finishReason);
      for (const [j, lp] of batched[i]!.logprobs!.entries()) {
        expect(Math.abs(lp - single.logprobs![j]!)).toBeLessThan(LOGPROB_TOLERANCE);
      }
    }
  });

  it('requests arriving mid-generation join the running batch and sample as they would alone', async () => {
    const long = {
      tokens: prompt('a long generation'),
      sampling: { maxTokens: 40, temperature: 1, seed: 1 },
      ...noEos,
    };
    const late = [
      { tokens: prompt('joins later'), sampling: { maxTokens: 6, temperature: 1, seed: 2 }, ...noEos },
      { tokens: prompt('x'), sampling: { maxTokens: 8, temperature: 0 }, ...noEos },
    ];
    const alone = [await policy.enqueue(long), ...(await Promise.all(late.map((r) => policy.enqueue(r))))];
    const order: string[] = [];
    let lateResults: Promise<GenerateResult[]> | undefined;
    let seen = 0;
    const longResult = policy
      .enqueue({
        ...long,
        onToken: () => {
          // After the 5th token of the long request, two more arrive.
          if (++seen === 5) {
            lateResults = Promise.all(
              late.map((r, i) =>
                policy.enqueue(r).then((result) => {
                  order.push(`late${i}`);
                  return result;
                }),
              ),
            );
          }
        },
      })
      .then((result) => {
        order.push('long');
        return result;
      });
    const results = [await longResult, ...(await lateResults!)];
    // The late requests finished before the long one: they joined it instead of waiting for it.
    expect(order.indexOf('long')).toBe(2);
    results.forEach((r, i) => {
      expect(r.tokens).toEqual(alone[i]!.tokens);
      r.logprobs!.forEach((lp, j) => {
        expect(Math.abs(lp - alone[i]!.logprobs![j]!)).toBeLessThan(LOGPROB_TOLERANCE);
      });
    });
  });

  it('generation with and without the KV cache gives the same tokens', async () => {
    const noCache = await OnnxPolicy.create({ model: model.dir, kvCache: 'off' });
    const request = {
      tokens: prompt('cache'),
      sampling: { maxTokens: 10, temperature: 1, seed: 9 },
      ...noEos,
    };
    const [withCache, without] = [await policy.enqueue(request), await noCache.enqueue(request)];
    expect(without.tokens).toEqual(withCache.tokens);
    await noCache.close();
  });

  it('stops at max tokens, at stop token ids and at stop strings', async () => {
    const base = await policy.enqueue({
      tokens: prompt('stop'),
      sampling: { maxTokens: 40, temperature: 0 },
      ...noEos,
    });
    expect(base.tokens).toHaveLength(40);
    expect(base.finishReason).toBe('length');

    const five = await policy.enqueue({
      tokens: prompt('stop'),
      sampling: { maxTokens: 5, temperature: 0 },
      ...noEos,
    });
    expect(five.tokens).toEqual(base.tokens!.slice(0, 5));
    expect(five.finishReason).toBe('length');

    const stopId = base.tokens![3]!;
    const firstStop = base.tokens!.indexOf(stopId);
    const byId = await policy.enqueue({
      tokens: prompt('stop'),
      sampling: { maxTokens: 40, temperature: 0, stopTokenIds: [stopId] },
      ...noEos,
    });
    expect(byId.tokens).toEqual(base.tokens!.slice(0, firstStop + 1));
    expect(byId.finishReason).toBe('stop');

    // A printable ASCII byte the greedy output contains, as a one-character stop string.
    const at = base.tokens!.findIndex((t, i) => i > 0 && t >= 33 && t <= 126);
    expect(at).toBeGreaterThan(0);
    const stop = String.fromCharCode(base.tokens![at]!);
    const byString = await policy.enqueue({
      tokens: prompt('stop'),
      sampling: { maxTokens: 40, temperature: 0, stop: [stop] },
      ...noEos,
    });
    expect(byString.finishReason).toBe('stop_string');
    expect(byString.tokens).toEqual(base.tokens!.slice(0, base.tokens!.indexOf(base.tokens![at]!) + 1));
    expect(byString.text.endsWith(stop)).toBe(true);
  });

  it('stops at eos unless ignoreEos, and leaves eos out of the text', async () => {
    const eos = policy.tokenizer.eosTokenIds[0]!;
    // A random-init model samples eos now and then: find a seed whose free-running output contains it.
    for (let i = 0; i < 40; i++) {
      const tokens = prompt(`eos ${i}`);
      const free = await policy.enqueue({
        tokens,
        sampling: { maxTokens: 30, temperature: 1, seed: i },
        ...noEos,
      });
      const at = free.tokens!.indexOf(eos);
      if (at < 0) continue;
      const stopped = await policy.generate({ tokens, sampling: { maxTokens: 30, temperature: 1, seed: i } });
      expect(stopped.tokens).toEqual(free.tokens!.slice(0, at + 1));
      expect(stopped.finishReason).toBe('stop');
      expect(stopped.text).toBe(policy.tokenizer.decode(free.tokens!.slice(0, at)));
      return;
    }
    throw new Error('no sampled sequence reached eos in 40 tries; pick other seeds');
  });

  it('renders messages with the model chat template in message mode', async () => {
    const sampling = { maxTokens: 6, temperature: 0 };
    const viaMessages = await policy.generate({
      messages: [{ role: 'user', content: 'hello' }],
      tools: [],
      sampling,
    });
    const viaTokens = await policy.enqueue({ tokens: prompt('hello'), sampling });
    expect(viaMessages.promptTokens).toEqual(prompt('hello'));
    expect(viaMessages.tokens).toEqual(viaTokens.tokens);
  });

  it('loadWeights (a weights object or a directory) swaps the model and increases the version', async () => {
    const p = await OnnxPolicy.create({ model: model.dir });
    const request = { tokens: prompt('weights'), sampling: { maxTokens: 8, temperature: 0 }, ...noEos };
    const before = await p.enqueue(request);
    expect(before.policyVersion).toBe(0);
    const other = initDecoderWeights(TINY_TEST_CONFIG, { seed: 999, std: 0.3 });
    expect(await p.loadWeights(other)).toBe(1);
    const after = await p.enqueue(request);
    expect(after.policyVersion).toBe(1);
    expect(after.tokens).not.toEqual(before.tokens);
    const logits = referenceForward(TINY_TEST_CONFIG, other, {
      inputIds: [[...request.tokens, ...after.tokens!]],
    })[0]!;
    expect(
      Math.abs(after.policyLogprobs![0]! - logSoftmax(logits[request.tokens.length - 1]!)[after.tokens![0]!]!),
    ).toBeLessThan(LOGPROB_TOLERANCE);

    expect(await p.loadWeights(model.dir)).toBe(2);
    expect((await p.enqueue(request)).tokens).toEqual(before.tokens);
    await expect(p.loadWeights(model.dir, { version: 2 })).rejects.toThrow(/must be above the current 2/);
    await p.close();
  });

  it('rejects requests it cannot serve with typed errors', async () => {
    const tooLong = new Array(TINY_TEST_CONFIG.maxPositions).fill(97);
    await expect(policy.enqueue({ tokens: tooLong, sampling: { maxTokens: 1 } })).rejects.toMatchObject({
      code: 'prompt_too_long',
    });
    await expect(policy.enqueue({ tokens: [1, 9999], sampling: { maxTokens: 1 } })).rejects.toBeInstanceOf(
      PolicyRequestError,
    );
    await expect(policy.enqueue({ tokens: [1], sampling: { maxTokens: 0 } })).rejects.toThrow(
      /maxTokens must be a positive integer/,
    );
    await expect(policy.enqueue({ tokens: [1], sampling: { maxTokens: 2, topP: 0 } })).rejects.toThrow(
      /topP/,
    );
    await expect(OnnxPolicy.create({ model: model.dir, maxBatchSize: Number.NaN })).rejects.toThrow(
      /maxBatchSize must be a positive integer/,
    );
  });

  it('stops at the position table: prompt + generated never exceed maxPositions', async () => {
    const tokens = new Array(TINY_TEST_CONFIG.maxPositions - 3).fill(97);
    const r = await policy.enqueue({ tokens, sampling: { maxTokens: 50, temperature: 0 }, ...noEos });
    expect(r.tokens).toHaveLength(3);
    expect(r.finishReason).toBe('length');
  });
});

describe('onnx policy: missing or malformed model directory', () => {
  async function brokenCopy(change: (dir: string) => Promise<void>): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-broken-'));
    dirs.push(dir);
    await cp(model.dir, dir, { recursive: true });
    await change(dir);
    return dir;
  }
  const failure = async (dir: string) => {
    try {
      await OnnxPolicy.create({ model: dir });
    } catch (error) {
      return error as ModelDirError;
    }
    throw new Error('expected the model directory to be rejected');
  };

  it('names the missing directory', async () => {
    const error = await failure('/nonexistent/toolgym-model');
    expect(error).toBeInstanceOf(ModelDirError);
    expect(error.code).toBe('missing_model_dir');
    expect(error.message).toContain('/nonexistent/toolgym-model');
  });

  it('names each missing or malformed file', async () => {
    const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
      ['missing config.json', (d) => rm(path.join(d, 'config.json')), /config\.json: missing/],
      [
        'config.json not JSON',
        (d) => writeFile(path.join(d, 'config.json'), '{ "vocab_size": '),
        /config\.json: not valid JSON/,
      ],
      [
        'config.json without layers',
        (d) =>
          writeFile(
            path.join(d, 'config.json'),
            JSON.stringify({ vocab_size: 263, num_attention_heads: 4, hidden_size: 32 }),
          ),
        /config\.json: missing 'num_hidden_layers'/,
      ],
      ['missing model.onnx', (d) => rm(path.join(d, 'model.onnx')), /model\.onnx: missing/],
      [
        'corrupt model.onnx',
        (d) => writeFile(path.join(d, 'model.onnx'), 'not a protobuf'),
        /model\.onnx: cannot read the decoder weights/,
      ],
      [
        'corrupt model.onnx of a model without toolgym.json',
        async (d) => {
          await writeFile(path.join(d, 'model.onnx'), 'not a protobuf');
          await rm(path.join(d, 'toolgym.json'));
        },
        /model\.onnx: onnxruntime cannot load the model/,
      ],
      ['missing tokenizer.json', (d) => rm(path.join(d, 'tokenizer.json')), /tokenizer\.json: missing/],
      [
        'malformed toolgym.json',
        (d) => writeFile(path.join(d, 'toolgym.json'), '{"format":"other"}'),
        /toolgym\.json: 'format' must be/,
      ],
    ];
    for (const [label, change, message] of cases) {
      const error = await failure(await brokenCopy(change));
      expect(error, label).toBeInstanceOf(ModelDirError);
      expect(error.message, label).toMatch(message);
    }
  });

  it('reports a config.json that disagrees with model.onnx', async () => {
    const dir = await brokenCopy(async (d) => {
      const config = {
        vocab_size: 263,
        num_hidden_layers: 5,
        num_attention_heads: 4,
        hidden_size: 32,
        eos_token_id: 258,
      };
      await writeFile(path.join(d, 'config.json'), JSON.stringify(config));
    });
    const error = await failure(dir);
    expect(error).toBeInstanceOf(ModelDirError);
    expect(error.message).toMatch(/model\.onnx: .*config\.json says 5 layers/);
  });
});
