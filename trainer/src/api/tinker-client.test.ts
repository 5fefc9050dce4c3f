/**
 * Contract tests of the Tinker-protocol client against a TEST DOUBLE of a GPU training service
 * (trainer/test/tinker-service-double.ts), built from the Tinker SDK's and skyrl-tx's request and
 * response types: the bodies the client sends, futures still pending, 429 / 5xx retried with the
 * SDK's backoff, a connection dropped while a future is polled, a lost future resubmitted, and the
 * errors a user can cause. Sleeps are recorded, not slept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTinkerServiceDouble, type TinkerServiceDouble } from '../../test/tinker-service-double.ts';
import { type Datum, datumFromSequence } from '../learner/learner.ts';
import { TinkerClient } from './tinker-client.ts';
import { TinkerLearner } from './tinker-learner.ts';

let double: TinkerServiceDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

const sleeps: number[] = [];
const fast = { sleep: async (ms: number) => void sleeps.push(ms), random: () => 0 };

async function learnerOn(d: TinkerServiceDouble, extra: { apiKey?: string; baseModel?: string } = {}) {
  sleeps.length = 0;
  return TinkerLearner.create({
    url: d.url,
    baseModel: 'Qwen/Qwen3-8B',
    loraRank: 32,
    apiKey: 'tml-key',
    ...fast,
    ...extra,
  });
}

const data = (): Datum[] =>
  [0, 1].map((i) =>
    datumFromSequence([1, 2, 3, 4, 5 + i], [0, 0, 1, 1, 1], {
      advantages: [0, 0, 1, 1, 1].map(() => (i ? 0.5 : -0.5)),
      logprobs: [-1, -1, -2, -3, -4],
    }),
  );

describe('Tinker-protocol client (against a test double of a GPU service)', () => {
  it('sends the SDK’s request bodies: session, LoRA model, ppo datum with Tinker’s clip bounds, Adam, sampler save', async () => {
    double = await startTinkerServiceDouble({ apiKey: 'tml-key' });
    const learner = await learnerOn(double);
    const out = await learner.forwardBackward(data(), 'ppo', {
      clipLow: 0.2,
      clipHigh: 0.28,
      aggregation: 'token-mean',
    });
    await learner.optimStep({ learningRate: 1e-5 });
    const path = await learner.saveForSampler();
    expect(path).toMatch(/^tinker:\/\/model-1\/sampler_weights\/sampler-1$/);
    expect(out.lossFnOutputs[1]!.logprobs).toEqual([-1, -2, -3, -4]);

    const by = (e: string) => double!.requests.filter((r) => r.endpoint === e).map((r) => r.body);
    expect(by('create_model')[0]).toEqual({
      session_id: 'session-1',
      model_seq_id: 0,
      base_model: 'Qwen/Qwen3-8B',
      lora_config: { rank: 32 },
      type: 'create_model',
    });
    const fb = by('forward_backward')[0] as {
      seq_id: number;
      forward_backward_input: {
        loss_fn: string;
        loss_fn_config: object;
        data: Array<{
          model_input: unknown;
          loss_fn_inputs: Record<string, { data: number[]; dtype: string }>;
        }>;
      };
    };
    expect(fb.seq_id).toBe(1);
    expect(fb.forward_backward_input.loss_fn).toBe('ppo');
    expect(fb.forward_backward_input.loss_fn_config).toEqual({
      clip_low_threshold: 0.8,
      clip_high_threshold: 1.28,
    });
    const d0 = fb.forward_backward_input.data[0]!;
    expect(d0.model_input).toEqual({ chunks: [{ type: 'encoded_text', tokens: [1, 2, 3, 4] }] });
    expect(Object.keys(d0.loss_fn_inputs).sort()).toEqual(['advantages', 'logprobs', 'target_tokens']);
    expect(d0.loss_fn_inputs.target_tokens).toEqual({ data: [2, 3, 4, 5], dtype: 'int64', shape: [4] });
    // token-mean over the 6 trained tokens of the batch, as Tinker sums: advantage × mask / 6.
    expect(d0.loss_fn_inputs.advantages!.data).toEqual([0, -0.5 / 6, -0.5 / 6, -0.5 / 6]);
    expect(by('optim_step')[0]).toEqual({
      model_id: 'model-1',
      seq_id: 2,
      adam_params: {
        learning_rate: 1e-5,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0,
        grad_clip_norm: 1,
      },
      type: 'optim_step',
    });
    expect(by('save_weights_for_sampler')[0]).toMatchObject({ seq_id: 3, path: 'sampler-1' });
    expect(double.requests.every((r) => r.headers['x-api-key'] === 'tml-key')).toBe(true);
  });

  it('polls a future that is still pending until it holds the result', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    double.fault('forward_backward', { kind: 'pending', polls: 4 });
    await learner.forwardBackward(data(), 'cross_entropy');
    const polls = double.requests.filter((r) => r.endpoint === 'retrieve_future');
    // create_model's poll, then 4 try_again answers and the result.
    expect(polls.length).toBe(1 + 5);
    expect(sleeps).toEqual([]);
  });

  it('retries 429 after Retry-After and 5xx with the SDK’s exponential backoff, keeping one idempotency key', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    double.fault(
      'optim_step',
      { kind: 'status', status: 429, headers: { 'retry-after': '2' } },
      { kind: 'status', status: 503 },
      { kind: 'status', status: 502 },
      { kind: 'status', status: 500 },
    );
    await learner.optimStep({ learningRate: 1e-4 });
    // Retry-After 2 s, then min(0.5 s · 2^n, 10 s) for retries 1, 2, 3 (jitter fixed at 0 here).
    expect(sleeps).toEqual([2000, 1000, 2000, 4000]);
    const keys = double.requests
      .filter((r) => r.endpoint === 'optim_step')
      .map((r) => r.headers['x-idempotency-key']);
    expect(keys).toHaveLength(5);
    expect(new Set(keys).size).toBe(1);
    // The delay shrinks by up to 25 % of jitter, and stops growing at 10 s.
    const client = new TinkerClient({ url: double.url, random: () => 1 });
    expect(client.retryDelay(0)).toBe(375);
    expect(client.retryDelay(12)).toBe(7500);
  });

  it('gives up after the SDK’s 10 retries with an error that names the service', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    double.fault(
      'optim_step',
      ...Array.from({ length: 11 }, () => ({ kind: 'status' as const, status: 503 })),
    );
    await expect(learner.optimStep({ learningRate: 1e-4 })).rejects.toMatchObject({
      code: 'tinker_unreachable',
      message: expect.stringContaining(double.url),
    });
    expect(sleeps).toHaveLength(10);
  });

  it('survives a connection dropped while a future is polled, and 408 / 5xx polls, without resubmitting', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    double.fault('forward_backward', { kind: 'pending', polls: 1 });
    double.fault(
      'retrieve_future',
      { kind: 'drop' },
      { kind: 'drop' },
      { kind: 'status', status: 408 },
      { kind: 'status', status: 502 },
    );
    const out = await learner.forwardBackward(data(), 'cross_entropy');
    expect(out.lossFnOutputs).toHaveLength(2);
    // A dropped connection backs off 2^k s; 408 and 5xx poll again at once.
    expect(sleeps).toEqual([1000, 2000]);
    expect(double.requests.filter((r) => r.endpoint === 'forward_backward')).toHaveLength(1);
  });

  it('resubmits the original request when the service lost its future (410), with the same seq_id', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    double.fault('optim_step', { kind: 'lost' });
    await learner.optimStep({ learningRate: 1e-4 });
    const sent = double.requests.filter((r) => r.endpoint === 'optim_step');
    expect(sent.map((r) => r.body.seq_id)).toEqual([1, 1]);
  });

  it('a failed request says whose fault it was; a dropped connection on submit is retried', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    double.fault(
      'forward_backward',
      { kind: 'drop' },
      { kind: 'failed', error: 'target_tokens out of vocabulary', category: 'user' },
    );
    await expect(learner.forwardBackward(data(), 'cross_entropy')).rejects.toMatchObject({
      code: 'tinker_request_refused',
      message: expect.stringMatching(/forward_backward failed on .*target_tokens out of vocabulary/),
    });
    double.fault('forward_backward', { kind: 'failed', error: 'CUDA out of memory', category: 'server' });
    await expect(learner.forwardBackward(data(), 'cross_entropy')).rejects.toMatchObject({
      code: 'tinker_request_failed',
    });
  });

  it('an auth failure and an unknown base model are clear errors, raised before anything is created', async () => {
    double = await startTinkerServiceDouble({ apiKey: 'tml-key' });
    await expect(learnerOn(double, { apiKey: 'tml-other' })).rejects.toMatchObject({
      code: 'tinker_auth',
      status: 401,
      hint: expect.stringMatching(/TINKER_API_KEY/),
    });
    await expect(learnerOn(double, { baseModel: 'Qwen/Qwen3-0.6B' })).rejects.toMatchObject({
      code: 'tinker_unknown_base_model',
      message: expect.stringContaining('Qwen/Qwen3-0.6B'),
      hint: expect.stringContaining('Qwen/Qwen3-8B, Qwen/Qwen3-30B-A3B'),
    });
    expect(double.requests.some((r) => r.endpoint === 'create_model')).toBe(false);
  });

  it('refuses what needs the whole distribution, and takes the custom-loss route for the rest, as the SDK sends it', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    const refused: Array<
      [Parameters<TinkerLearner['checkLoss']>[0], Parameters<TinkerLearner['checkLoss']>[1], RegExp]
    > = [
      ['ppo', { entropyCoef: 0.01 }, /with entropyCoef/],
      ['ppo', { entropyTopFraction: 0.2 }, /with entropyTopFraction/],
      ['importance_sampling', { temperature: 0.7 }, /with temperature/],
    ];
    for (const [lossFn, config, option] of refused) {
      expect(() => learner.checkLoss(lossFn, config)).toThrow(option);
      expect(() => learner.checkLoss(lossFn, config)).toThrow(double.url);
    }
    // What Tinker computes passes; so does what the custom-loss route computes.
    for (const aggregation of ['token-mean', 'sequence-mean', 'token-sum', 'token-sum-norm'] as const)
      expect(() => learner.checkLoss('ppo', { clipLow: 0.2, clipHigh: 0.28, aggregation, temperature: 1, entropyCoef: 0 })).not.toThrow();
    expect(() => learner.checkLoss('ppo', { ratioLevel: 'sequence', klCoef: 0.1 })).not.toThrow();
    expect(() => learner.checkLoss('implicit_prm')).not.toThrow();

    // A KL reference: forward (cross_entropy, targets and weights only), then forward_backward with weights −∂L/∂logp.
    const withRef = data().map((d) => ({ ...d, lossFnInputs: { ...d.lossFnInputs, ref_logprobs: [0, 0, 0, 0] } }));
    const out = await learner.forwardBackward(withRef, 'ppo', { klCoef: 0.5, klEstimator: 'k1', aggregation: 'token-sum' });
    const sent = double.requests.filter((r) => r.endpoint === 'forward' || r.endpoint === 'forward_backward');
    expect(sent.map((r) => r.endpoint)).toEqual(['forward', 'forward_backward']);
    type Input = { data: Array<{ loss_fn_inputs: Record<string, { data: number[] }> }>; loss_fn: string; loss_fn_config: object };
    const forward = (sent[0]!.body as { forward_input: Input }).forward_input;
    expect(forward.loss_fn).toBe('cross_entropy');
    expect(Object.keys(forward.data[0]!.loss_fn_inputs).sort()).toEqual(['target_tokens', 'weights']);
    const backward = (sent[1]!.body as { forward_backward_input: Input }).forward_backward_input;
    expect(backward).toMatchObject({ loss_fn: 'cross_entropy', loss_fn_config: {} });
    // The double's forward gives logp 0 everywhere: with k1 = logp − ref = 0 and ratio e^(0 − old), PPO's
    // token-sum ∂L/∂logp on a trained token is −ratio·A (unclipped) or 0 (clipped), plus β·1 for the KL.
    const old = [-1, -2, -3, -4];
    data().forEach((d, i) => {
      const a = i ? 0.5 : -0.5;
      const expected = d.lossFnInputs.weights!.map((w, t) => {
        const ratio = Math.exp(0 - old[t]!);
        const clipped = a > 0 ? ratio > 1.2 : ratio < 0.8;
        return -w * ((clipped ? 0 : -ratio * a) + 0.5);
      });
      for (const [t, x] of backward.data[i]!.loss_fn_inputs.weights!.data.entries()) expect(x).toBeCloseTo(expected[t]!, 4);
    });
    expect(out.metrics).toMatchObject({ loss: expect.any(Number), kl_ref: 0, tokens: 8 });
  });

  it('state lives on the service: saveState is a tinker:// path, loadState loads it into a new model', async () => {
    double = await startTinkerServiceDouble();
    const learner = await learnerOn(double);
    const state = await learner.saveState();
    expect(state).toEqual({
      step: 0,
      weights: {},
      adamM: {},
      adamV: {},
      path: 'tinker://model-1/weights/state-1',
    });
    await expect(learner.saveWeights()).rejects.toMatchObject({ code: 'tinker_unsupported' });
    await learner.loadState(state);
    const by = (e: string) => double!.requests.filter((r) => r.endpoint === e).map((r) => r.body);
    expect(by('create_model')).toHaveLength(2);
    expect(by('load_weights')[0]).toEqual({
      model_id: 'model-2',
      seq_id: 1,
      path: 'tinker://model-1/weights/state-1',
      optimizer: true,
      type: 'load_weights',
    });
    expect(by('unload_model')[0]).toEqual({ model_id: 'model-1', type: 'unload_model' });
    await expect(learner.loadState({ step: 0, weights: {}, adamM: {}, adamV: {} })).rejects.toMatchObject({
      code: 'tinker_unsupported',
    });
  });
});
