import { plainArray } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { type EpisodeProgress, playEpisode } from '../src/agent-loop.ts';
import { GrowableBuffer } from '../src/growable-buffer.ts';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import { SequenceBuffers } from '../src/sequence-buffers.ts';
import { TokenLedger } from '../src/token-ledger.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { aroundGenerate, composeEnvironment, inProcessClient } from './helpers.test-double.ts';

/** Doubles a plain array keeps exactly and a careless conversion would not: -0, subnormals, 17 digits. */
const AWKWARD = [-0, -Math.PI, -5e-324, -1.2345678901234567, -2.2250738585072014e-308, -700.5, -1 / 3];

/** Element by element with `Object.is`, so -0 and 0 differ. */
function same(actual: ArrayLike<number>, expected: ArrayLike<number>): boolean {
  if (actual.length !== expected.length) return false;
  for (let i = 0; i < actual.length; i++) if (!Object.is(actual[i], expected[i])) return false;
  return true;
}

describe('GrowableBuffer', () => {
  it('grows by doubling across its capacity and keeps every value in order', () => {
    const buffer = new GrowableBuffer(Int32Array, 2);
    for (let i = 0; i < 5; i++) buffer.push(i * 10);
    expect(buffer.length).toBe(5);
    expect(buffer.capacity).toBe(8);
    buffer.append([50, 60, 70, 80]);
    expect(buffer.capacity).toBe(16);
    // An append beyond double the capacity grows straight to a power-of-two multiple that holds it.
    buffer.append(new Array(100).fill(7));
    expect(buffer.capacity).toBe(128);
    buffer.appendRepeated(1, 3);
    expect([...buffer.view()]).toEqual([
      0,
      10,
      20,
      30,
      40,
      50,
      60,
      70,
      80,
      ...new Array(100).fill(7),
      1,
      1,
      1,
    ]);
  });

  it('hands out views that keep their values after the buffer grows and is appended to', () => {
    const buffer = new GrowableBuffer(Float64Array, 4);
    buffer.append([-1, -2, -3]);
    const before = buffer.view();
    buffer.append([-4, -5, -6, -7]);
    const after = buffer.view();
    expect(buffer.capacity).toBe(8);
    buffer.appendRepeated(-9, 20);
    expect([...before]).toEqual([-1, -2, -3]);
    expect([...after]).toEqual([-1, -2, -3, -4, -5, -6, -7]);
    // A view is a window, not a copy: the grown buffer lives elsewhere.
    const now = buffer.view();
    expect(now.buffer !== before.buffer || now.byteOffset !== before.byteOffset).toBe(true);
    expect(buffer.view().length).toBe(27);
  });

  it('never hands two buffers the same memory: many records, growing in turn, keep their own values', () => {
    // Buffers of each kind, some large, all growing past their first capacity in turn.
    const capacity = (i: number) => (i % 17 === 0 ? 40_000 : 300);
    const buffers: Array<GrowableBuffer<Int32Array | Uint8Array | Float64Array>> = Array.from(
      { length: 240 },
      (_, i) =>
        i % 3 === 0
          ? new GrowableBuffer(Int32Array, capacity(i))
          : i % 3 === 1
            ? new GrowableBuffer(Uint8Array, capacity(i))
            : new GrowableBuffer(Float64Array, capacity(i)),
    );
    const value = (i: number, k: number) => (i * 31 + k) % 251;
    for (let round = 0; round < 3; round++)
      for (const [i, b] of buffers.entries()) for (let k = 0; k < 400; k++) b.push(value(i, b.length));
    const views = buffers.map((b) => b.view());
    for (const b of buffers) b.appendRepeated(0, 50);
    for (const [i, v] of views.entries()) {
      expect(v.length).toBe(1200);
      for (let k = 0; k < v.length; k++)
        if (v[k] !== value(i, k)) expect([i, k, v[k]]).toEqual([i, k, value(i, k)]);
    }
  });

  it('holds doubles bit for bit, and converts to a plain array that JSON writes as a list', () => {
    const buffer = new GrowableBuffer(Float64Array, 1);
    for (const x of AWKWARD) buffer.push(x);
    const plain = plainArray(buffer.view());
    expect(Array.isArray(plain)).toBe(true);
    expect(same(plain, AWKWARD)).toBe(true);
    expect(JSON.stringify(plain)).toBe(JSON.stringify(AWKWARD));
    expect(plainArray(buffer.view(), 5)).toEqual(AWKWARD.slice(5));
    expect(plainArray(buffer.view(), 99)).toEqual([]);
  });
});

describe('SequenceBuffers', () => {
  it('keeps ids, mask and logprobs in step through growth: zeros where nothing was written, -0 kept, views keep their values', () => {
    const record = new SequenceBuffers(3);
    record.appendObservation([5, 6]);
    const early = { tokens: record.tokens, lossMask: record.lossMask, logprobs: record.logprobs };
    // Fewer logprobs than tokens: the rest are 0, as a plain record writes them.
    record.appendSampled([7, 8, 9], [-0, -1.5]);
    record.appendObservation(Int32Array.from([10]));
    record.appendSampled([11], AWKWARD.slice(1, 2));
    record.appendObservation(new Array(40).fill(3));
    expect(record.capacity).toBe(48);
    expect(Array.from(record.tokens)).toEqual([5, 6, 7, 8, 9, 10, 11, ...new Array(40).fill(3)]);
    expect(Array.from(record.lossMask)).toEqual([0, 0, 1, 1, 1, 0, 1, ...new Array(40).fill(0)]);
    expect(same(record.logprobs, [0, 0, -0, -1.5, 0, 0, -Math.PI, ...new Array(40).fill(0)])).toBe(true);
    expect([Array.from(early.tokens), Array.from(early.lossMask), Array.from(early.logprobs)]).toEqual([
      [5, 6],
      [0, 0],
      [0, 0],
    ]);
    // One buffer per sequence: its three arrays share it, aligned.
    expect(record.tokens.buffer).toBe(record.logprobs.buffer);
    expect(record.lossMask.buffer).toBe(record.logprobs.buffer);
  });
});

describe('TokenLedger', () => {
  it('refuses a sampled id its int32 record cannot hold, naming it, and keeps what it holds', () => {
    const ledger = new TokenLedger(new ByteTokenizerTestDouble());
    ledger.appendObservation({ text: 'ab', tokens: [97, 98] });
    for (const bad of [1.5, -1, 2 ** 31, Number.NaN]) {
      let error: unknown;
      try {
        ledger.appendSampled([3, bad], undefined, 'x');
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'policy_bad_token' });
      expect((error as Error).message).toContain(`${bad} as the token id at position 1`);
    }
    expect([...ledger.tokens]).toEqual([97, 98]);
    expect(ledger.renderedText).toBe('ab');
  });

  it('records a real episode exactly as a plain-array record does: ids, mask and logprobs bit for bit, views included', async () => {
    const tokenizer = new ByteTokenizerTestDouble();
    const env = composeEnvironment();
    const task = (await env.tasksOf('test'))[0]!;
    // The plain-array record, kept the way the loop kept it before: each request continues it.
    const reference = {
      tokens: [] as number[],
      lossMask: [] as number[],
      logprobs: [] as number[],
      own: [] as number[],
    };
    const extendWithObservation = (upTo: ArrayLike<number>) => {
      expect(same(Array.prototype.slice.call(upTo, 0, reference.tokens.length), reference.tokens)).toBe(true);
      for (let i = reference.tokens.length; i < upTo.length; i++) {
        reference.tokens.push(upTo[i]!);
        reference.lossMask.push(0);
        reference.logprobs.push(0);
        reference.own.push(0);
      }
    };
    let k = 0;
    const policy = aroundGenerate(createOraclePolicy({ tokenizer }), async (request, generate) => {
      if (!('tokens' in request)) throw new Error('token mode expected');
      extendWithObservation(request.tokens);
      const result = await generate(request);
      // A long preamble before the call, so the record grows past its first capacity mid-episode.
      const preamble = tokenizer.encode(`${'thinking it over. '.repeat(120)}\n`);
      const tokens = [...preamble, ...result.tokens!];
      const logprobs = tokens.map(() => AWKWARD[k++ % AWKWARD.length]!);
      const policyLogprobs = tokens.map((_, i) => -i / 7);
      reference.tokens.push(...tokens);
      reference.lossMask.push(...tokens.map(() => 1));
      reference.logprobs.push(...logprobs);
      reference.own.push(...policyLogprobs);
      return { ...result, text: tokenizer.decode(tokens.slice(0, -1)), tokens, logprobs, policyLogprobs };
    });
    const views: Array<EpisodeProgress['record']> = [];
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy,
      start: { taskId: task.id, seed: 3 },
      sampling: { maxTokens: 4096 },
      // The record's views as of this turn (the record object itself reads the latest).
      onTurn: (_, { record }) =>
        views.push({
          tokens: record.tokens,
          lossMask: record.lossMask,
          logprobs: record.logprobs,
          policyLogprobs: record.policyLogprobs,
        }),
    });
    await client.close();

    expect(t.failure).toBeUndefined();
    expect(t.reward.components.correct).toBe(1);
    extendWithObservation(t.tokens);
    expect(t.tokens.length).toBeGreaterThan(2 * t.promptLength);
    expect(Array.from(t.tokens)).toEqual(reference.tokens);
    expect(Array.from(t.lossMask)).toEqual(reference.lossMask);
    expect(same(t.logprobs, reference.logprobs)).toBe(true);
    expect(same(t.policyLogprobs!, reference.own)).toBe(true);
    // The trajectory holds the record's typed arrays.
    expect(t.tokens).toBeInstanceOf(Int32Array);
    expect(t.lossMask).toBeInstanceOf(Uint8Array);
    for (const field of [t.logprobs, t.policyLogprobs]) expect(field).toBeInstanceOf(Float64Array);
    // Every turn's views still read what the record held then, after the record grew past them.
    expect(views.length).toBe(t.turns.length);
    for (const view of views) {
      const n = view.tokens.length;
      expect(same(view.tokens, reference.tokens.slice(0, n))).toBe(true);
      expect(same(view.lossMask, reference.lossMask.slice(0, n))).toBe(true);
      expect(same(view.logprobs, reference.logprobs.slice(0, n))).toBe(true);
      expect(same(view.policyLogprobs!, reference.own.slice(0, n))).toBe(true);
    }
  });

  it('ends an episode whose policy samples an id the record cannot hold as failed, with the reason', async () => {
    const tokenizer = new ByteTokenizerTestDouble();
    const env = composeEnvironment();
    const task = (await env.tasksOf('test'))[0]!;
    const policy = aroundGenerate(createOraclePolicy({ tokenizer }), async (request, generate) => {
      const result = await generate(request);
      return { ...result, tokens: [...result.tokens!.slice(0, -1), 2 ** 32, result.tokens!.at(-1)!] };
    });
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy,
      start: { taskId: task.id, seed: 1 },
      sampling: { maxTokens: 512 },
    });
    await client.close();
    expect(t.status).toBe('failed');
    expect(t.failure?.code).toBe('policy_bad_token');
  });
});
