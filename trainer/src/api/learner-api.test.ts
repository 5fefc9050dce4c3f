/**
 * `toolgym learner serve` on the Tinker training API, driven by the one Tinker-protocol client
 * (`TinkerLearner`): the same numbers as the embedded learner, checkpoints by tinker:// path that
 * survive a server restart, sampling from saved weights, and the errors a client can cause.
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  createOnnxPolicy,
  type DecoderConfig,
  initDecoderWeights,
  writeDecoderModelDir,
} from '@toolgym/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedLearner } from '../learner/embedded-learner.ts';
import { type Datum, datumFromSequence, type Learner } from '../learner/learner.ts';
import { type LearnerServer, serveLearner } from './learner-server.ts';
import { TinkerClient } from './tinker-client.ts';
import { datumToWire } from './tinker-wire.ts';
import { TinkerLearner } from './tinker-learner.ts';
import { TinkerPolicy } from './tinker-policy.ts';

const decoder: DecoderConfig = {
  vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
  dFF: 32,
  maxPositions: 48,
  layerNormEps: 1e-5,
};
const weights = initDecoderWeights(decoder, { seed: 5, std: 0.2 });
const adam = { learningRate: 0.01, gradClipNorm: 1 };
const dirs: string[] = [];
const servers: LearnerServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const batch = (k: number): Datum[] =>
  [0, 1, 2].map((i) => {
    const tokens = Array.from({ length: 10 + i }, (_, j) => (j * 7 + i * 3 + k * 11) % 256);
    const a = (i - 1) * 0.5;
    return datumFromSequence(
      tokens,
      tokens.map((_, j) => (j > 3 ? 1 : 0)),
      { advantages: tokens.map(() => a), logprobs: tokens.map(() => -5.5) },
    );
  });

/** Two steps of two accumulated forward_backward calls each; returns every number the learner produced. */
async function trainTwoSteps(learner: Learner) {
  const out: unknown[] = [];
  for (let step = 0; step < 2; step++) {
    for (let call = 0; call < 2; call++)
      out.push(
        await learner.forwardBackward(batch(step * 2 + call), 'ppo', {
          clipLow: 0.2,
          clipHigh: 0.28,
          entropyTopFraction: 0.5,
        }),
      );
    out.push(await learner.optimStep(adam));
  }
  return out;
}

async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-learner-api-'));
  dirs.push(dir);
  return dir;
}

async function modelDir() {
  const dir = path.join(await tempDir(), 'base');
  await writeDecoderModelDir(dir, { config: decoder, weights });
  return dir;
}

async function start(options: Parameters<typeof serveLearner>[0] = {}) {
  const server = await serveLearner({ port: 0, futureWaitMs: 200, ...options });
  servers.push(server);
  return server;
}

describe('learner serve speaks the Tinker API', () => {
  it('TinkerLearner gives exactly the embedded learner’s outputs, steps, weights and state', async () => {
    const embedded = await createEmbeddedLearner({ decoder, weights, microBatchSize: 64 });
    const expected = await trainTwoSteps(embedded);
    const server = await start();
    const remote = await TinkerLearner.create({ url: server.url, baseModel: await modelDir() });
    expect(remote.extended).toBe(true);
    expect(await trainTwoSteps(remote)).toEqual(expected);
    expect((await remote.saveWeights()).weights).toEqual((await embedded.saveWeights()).weights);
    expect(remote.samplerPath).toMatch(/^tinker:\/\/model_\w+\/sampler_weights\/sampler-1$/);
    const state = await remote.saveState();
    expect(state.path).toMatch(/\/weights\/state-2$/);
    const { path: _, ...tensors } = state;
    expect(tensors).toEqual(await embedded.saveState());
    // A learner error comes back as a failed future the user caused.
    await expect(remote.optimStep(adam)).rejects.toMatchObject({
      code: 'tinker_request_refused',
      message: expect.stringMatching(/call forwardBackward first/),
    });
    await remote.close();
    await embedded.close();
  }, 180_000);

  it('loadState continues from a tinker:// checkpoint in a new model, also after the server restarted', async () => {
    const stateDir = await tempDir();
    const base = await modelDir();
    const embedded = await createEmbeddedLearner({ decoder, weights, microBatchSize: 64 });
    await trainTwoSteps(embedded);
    const expected = await trainTwoSteps(embedded);

    const first = await start({ stateDir });
    const a = await TinkerLearner.create({ url: first.url, baseModel: base });
    await trainTwoSteps(a);
    const saved = await a.saveState();
    await first.close();

    const second = await start({ stateDir });
    const b = await TinkerLearner.create({ url: second.url, baseModel: base });
    await b.loadState({ step: saved.step, weights: {}, adamM: {}, adamV: {}, path: saved.path! });
    expect(await trainTwoSteps(b)).toEqual(expected);
    await b.close();
    await embedded.close();
  }, 180_000);

  it('resetOptimizer keeps the weights and starts Adam afresh, as the embedded learner does', async () => {
    const embedded = await createEmbeddedLearner({ decoder, weights, microBatchSize: 64 });
    const server = await start();
    const remote = await TinkerLearner.create({ url: server.url, baseModel: await modelDir() });
    for (const l of [embedded, remote]) {
      await trainTwoSteps(l);
      await l.resetOptimizer();
    }
    expect(await trainTwoSteps(remote)).toEqual(await trainTwoSteps(embedded));
    await remote.close();
    await embedded.close();
  }, 180_000);

  it('asample draws from the saved sampler weights: the tokens and logprobs ToolGym’s own ONNX policy gives', async () => {
    const base = await modelDir();
    const server = await start();
    const learner = await TinkerLearner.create({ url: server.url, baseModel: base });
    await trainTwoSteps(learner);
    const { weights: trained } = await learner.saveWeights();
    const client = new TinkerClient({ url: server.url });
    const prompt = [60, 124, 105, 109, 95, 115, 116, 97, 114, 116, 124, 62];
    const out = await client.call<{
      sequences: Array<{ tokens: number[]; logprobs: number[]; stop_reason: string }>;
    }>('asample', {
      prompt: { chunks: [{ type: 'encoded_text', tokens: prompt }] },
      sampling_params: { max_tokens: 8, temperature: 1, seed: 11 },
      num_samples: 2,
      model_path: learner.samplerPath,
    });
    const local = await createOnnxPolicy({ model: base, executionProvider: 'cpu' });
    await local.loadWeights(trained);
    for (const [i, s] of out.sequences.entries()) {
      const want = await local.generate({
        tokens: prompt,
        sampling: { maxTokens: 8, temperature: 1, seed: 11 + i },
      });
      expect(s.tokens).toEqual(want.tokens);
      expect(s.logprobs).toEqual(want.logprobs);
      expect(s.tokens.length).toBeGreaterThan(0);
    }
    expect(out.sequences[0]!.tokens).not.toEqual(out.sequences[1]!.tokens);
    await local.close?.();
    await learner.close();
  }, 120_000);

  it('TinkerPolicy samples through asample with the tokenizer of a local directory; each save is a new policy version', async () => {
    const base = await modelDir();
    // Only the tokenizer files, as a GPU user has them for a base model sampled remotely.
    const tokenizerDir = path.join(await tempDir(), 'tokenizer');
    await mkdir(tokenizerDir);
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      await copyFile(path.join(base, f), path.join(tokenizerDir, f));
    const server = await start();
    const learner = await TinkerLearner.create({ url: server.url, baseModel: base });
    const policy = new TinkerPolicy({ url: server.url, tokenizerDir });
    const prompt = policy.tokenizer.encode('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    await expect(policy.generate({ tokens: prompt, sampling: { maxTokens: 4 } })).rejects.toMatchObject({
      code: 'tinker_no_sampler_weights',
    });
    const local = await createOnnxPolicy({ model: base, executionProvider: 'cpu' });
    for (let version = 1; version <= 2; version++) {
      await trainTwoSteps(learner);
      const { weights: trained } = await learner.saveWeights();
      expect(policy.useSampler(learner.samplerPath!)).toBe(version);
      await local.loadWeights(trained);
      const sampling = { maxTokens: 6, temperature: 1, seed: 3 };
      const got = await policy.generate({ tokens: prompt, sampling });
      const want = await local.generate({ tokens: prompt, sampling });
      expect(got.tokens).toEqual(want.tokens);
      expect(got.logprobs).toEqual(want.logprobs);
      expect(got.text).toBe(want.text);
      expect(got.policyVersion).toBe(version);
    }
    expect(policy.chatTemplate).toContain('im_start');
    await local.close?.();
    await learner.close();
  }, 180_000);

  it('refuses a wrong API key, an unknown base model, LoRA and a loss option it does not know, each saying what to fix', async () => {
    const server = await start({ token: 'tml-secret' });
    await expect(
      TinkerLearner.create({ url: server.url, apiKey: 'tml-wrong', baseModel: 'toolgym/decoder-tiny' }),
    ).rejects.toMatchObject({ code: 'tinker_auth', hint: expect.stringMatching(/TINKER_API_KEY/) });
    await expect(
      TinkerLearner.create({ url: server.url, apiKey: 'tml-secret', baseModel: 'Qwen/Qwen3-8B' }),
    ).rejects.toMatchObject({
      code: 'tinker_unknown_base_model',
      hint: expect.stringMatching(/toolgym\/decoder-tiny, toolgym\/decoder-small/),
    });
    await expect(
      TinkerLearner.create({ url: server.url, apiKey: 'tml-secret', baseModel: '/nonexistent/model' }),
    ).rejects.toMatchObject({
      code: 'tinker_request_refused',
      message: expect.stringMatching(/nonexistent/),
    });
    await expect(
      TinkerLearner.create({
        url: server.url,
        apiKey: 'tml-secret',
        baseModel: 'toolgym/decoder-tiny',
        loraRank: 8,
      }),
    ).rejects.toMatchObject({
      code: 'tinker_http',
      status: 400,
      message: expect.stringMatching(/lora_config/),
    });
    const tiny = await TinkerLearner.create({
      url: server.url,
      apiKey: 'tml-secret',
      baseModel: 'toolgym/decoder-tiny',
    });
    // Clip-Cov has no loss_fn_config key: it goes by the custom-loss route, on this server too.
    expect(() =>
      tiny.checkLoss('ppo', { covControl: { kind: 'clip-cov', fraction: 0.01, low: 1, high: 5 } }),
    ).not.toThrow();
    // The raw wire: an unknown loss_fn_config key is named.
    const client = new TinkerClient({ url: server.url, apiKey: 'tml-secret' });
    await expect(
      client.call('forward_backward', {
        model_id: 'nope',
        forward_backward_input: { data: batch(0).map(() => ({})), loss_fn: 'ppo' },
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/model_input/) });
    await tiny.close();
  });
});

/**
 * `learner serve` behind a proxy that hides its ToolGym extensions (and lists the model directory
 * as a base model), so the client speaks to it as to the Tinker service: Tinker's losses with
 * scaled inputs, and the custom-loss route for the rest.
 */
async function asPlainTinker(server: LearnerServer, baseModel: string): Promise<{ url: string; close(): Promise<void> }> {
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const upstream = await fetch(`${server.url}${req.url!.replace(/^\/api\/v1/, '')}`, {
      method: req.method!,
      headers: { 'content-type': 'application/json' },
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    let body = await upstream.text();
    if (req.url!.endsWith('/get_server_capabilities')) {
      const { toolgym: _, ...capabilities } = JSON.parse(body) as { supported_models: object[]; toolgym?: unknown };
      body = JSON.stringify({ ...capabilities, supported_models: [...capabilities.supported_models, { model_name: baseModel }] });
    }
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/v1`, close: () => new Promise((resolve) => proxy.close(() => resolve())) };
}

describe('a plain Tinker server: Tinker’s losses with scaled inputs, else the custom-loss route (forward, ∂L/∂logp in the client, cross_entropy with weights −∂L/∂logp)', () => {
  it.each([
    ['ppo', { clipLow: 0.2, clipHigh: 0.28 }],
    ['cross_entropy', { aggregation: 'sequence-mean' }],
    ['ppo', { aggregation: 'token-sum-norm', normLength: 12 }],
    ['ppo', { ratioLevel: 'sequence', clipLow: 0.2, clipHigh: 0.2 }],
    ['ppo', { klCoef: 0.1, klEstimator: 'k3', aggregation: 'sequence-mean' }],
    ['importance_sampling', { truncation: 1.5, aggregation: 'token-sum-norm', normLength: 12 }],
    ['ppo', { covControl: { kind: 'kl-cov', fraction: 0.3, coef: 1 } }],
  ] as const)('%s %j on a plain Tinker server trains exactly as the embedded learner', async (lossFn, config) => {
    const withRef = (k: number) => batch(k).map((d) => ({ ...d, lossFnInputs: { ...d.lossFnInputs, ref_logprobs: d.lossFnInputs.target_tokens.map(() => -5) } }));
    const embedded = await createEmbeddedLearner({ decoder, weights, microBatchSize: 64 });
    const server = await start();
    const dir = await modelDir();
    const proxy = await asPlainTinker(server, dir);
    try {
      const remote = await TinkerLearner.create({ url: proxy.url, baseModel: dir });
      expect(remote.extended).toBe(false);
      remote.checkLoss(lossFn, config);
      const steps = async (learner: Learner) => {
        const out: Array<{ loss: number; gradNorm: number; logprobs: number[][] }> = [];
        for (let step = 0; step < 2; step++) {
          const fb = await learner.forwardBackward('klCoef' in config ? withRef(step) : batch(step), lossFn, config);
          // The gradient's norm checks its scale, to which Adam's step is blind.
          const { grad_norm: gradNorm } = (await learner.optimStep(adam)).metrics;
          out.push({ loss: fb.metrics.loss!, gradNorm: gradNorm!, logprobs: (await learner.forward(batch(9))).lossFnOutputs.map((o) => o.logprobs) });
        }
        return out;
      };
      const [expected, got] = [await steps(embedded), await steps(remote)];
      for (const [i, e] of expected.entries()) {
        expect(got[i]!.loss).toBeCloseTo(e.loss, 5);
        expect(got[i]!.gradNorm).toBeGreaterThan(0);
        expect(got[i]!.gradNorm / e.gradNorm).toBeCloseTo(1, 4);
        for (const [j, lp] of got[i]!.logprobs.flat().entries()) expect(lp).toBeCloseTo(e.logprobs.flat()[j]!, 4);
      }
      // The weights moved: the second step's logprobs are not the first's.
      expect(got[1]!.logprobs).not.toEqual(got[0]!.logprobs);
      await remote.close();
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('refuses, before anything is sent, what needs the whole distribution: entropy bonus, top-entropy tokens, a temperature', async () => {
    const server = await start();
    const dir = await modelDir();
    const proxy = await asPlainTinker(server, dir);
    try {
      const remote = await TinkerLearner.create({ url: proxy.url, baseModel: dir });
      for (const [key, config] of [
        ['entropyCoef', { entropyCoef: 0.01 }],
        ['entropyTopFraction', { entropyTopFraction: 0.2 }],
        ['temperature', { temperature: 0.7 }],
      ] as const) {
        expect(() => remote.checkLoss('ppo', config)).toThrow(new RegExp(`with ${key}: it needs the whole next-token distribution`));
        await expect(remote.forwardBackward(batch(0), 'ppo', config)).rejects.toMatchObject({ code: 'tinker_unsupported_loss_option', hint: expect.stringContaining(key) });
      }
      // Their off values are what Tinker computes, and pass.
      expect(() => remote.checkLoss('ppo', { entropyCoef: 0, entropyTopFraction: 1, temperature: 1 })).not.toThrow();
      await remote.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('learner serve on the wire, as an SDK reads it', () => {
  it("names a pass's metrics as the Tinker service does, and sums a loss sent without aggregation", async () => {
    const server = await start();
    const client = new TinkerClient({ url: server.url });
    const { session_id } = (await client.request('POST', 'create_session', { tags: [], type: 'create_session' })) as { session_id: string };
    const { model_id } = await client.call<{ model_id: string }>('create_model', { session_id, model_seq_id: 0, base_model: await modelDir(), type: 'create_model' });
    const data = batch(0).map(datumToWire);
    const pass = async (seq: number, config: Record<string, number>) =>
      (
        await client.call<{ metrics: Record<string, number> }>('forward', {
          model_id,
          seq_id: seq,
          forward_input: { data, loss_fn: 'cross_entropy', loss_fn_config: config },
        })
      ).metrics;
    const summed = await pass(1, {});
    expect(Object.keys(summed).sort()).toEqual(['loss:sum', 'unmasked_tokens:sum']);
    expect(summed['unmasked_tokens:sum']).toBe(batch(0).reduce((n, d) => n + d.modelInput.tokens.length, 0));
    // Tinker's cross_entropy is a sum over the weighted tokens: the token mean times their count.
    const trained = batch(0).reduce((n, d) => n + d.lossFnInputs.weights!.reduce((a, w) => a + w, 0), 0);
    const mean = await pass(2, { aggregation: 0 });
    expect(summed['loss:sum']! / trained).toBeCloseTo(mean['loss:sum']!, 5);
  });
});

describe('every learner API route refuses a bad request, saying what to fix', () => {
  const model = 'model_nope';
  const datum = {
    model_input: { chunks: [{ type: 'encoded_text', tokens: [1, 2] }] },
    loss_fn_inputs: { target_tokens: { data: [2, 3], dtype: 'int64', shape: [2] } },
  };
  /** A well-formed body of each route that names a model, with a model id the server does not hold. */
  const wellFormed: Record<string, object> = {
    get_info: { model_id: model, type: 'get_info' },
    unload_model: { model_id: model, type: 'unload_model' },
    forward_backward: { model_id: model, seq_id: 1, forward_backward_input: { data: [datum], loss_fn: 'cross_entropy' } },
    forward: { model_id: model, seq_id: 1, forward_input: { data: [datum], loss_fn: 'cross_entropy' } },
    optim_step: { model_id: model, seq_id: 1, adam_params: { learning_rate: 0.1 }, type: 'optim_step' },
    save_weights: { model_id: model, seq_id: 1, path: 'a', type: 'save_weights' },
    save_weights_for_sampler: { model_id: model, seq_id: 1, path: 'a', type: 'save_weights_for_sampler' },
    load_weights: { model_id: model, seq_id: 1, path: `tinker://${model}/weights/a`, optimizer: true, type: 'load_weights' },
  };
  const routes = [...Object.keys(wellFormed), 'create_model', 'asample', 'retrieve_future'];

  it.each(routes)('%s: missing fields and wrong types are 400 naming the field; huge, protobuf and unknown-model bodies are refused', async (route) => {
    const server = await start({ maxBodyBytes: 64 * 1024 });
    const post = async (body: string, contentType = 'application/json') => {
      const response = await fetch(`${server.url}/api/v1/${route}`, { method: 'POST', headers: { 'content-type': contentType }, body });
      return { status: response.status, error: ((await response.json()) as { error: { code: string; field?: string; hint?: string } }).error };
    };
    const missing = await post('{}');
    expect(missing).toMatchObject({ status: 400, error: { code: 'invalid_request', field: expect.stringMatching(/^[a-z_]+$/) } });
    const wrongTypes = await post(JSON.stringify({ model_id: 7, session_id: 3, request_id: 5, prompt: 'x', seq_id: 'one' }));
    expect(wrongTypes).toMatchObject({ status: 400, error: { code: 'invalid_request', field: expect.stringMatching(/^[a-z_]+$/) } });
    expect(await post(JSON.stringify({ pad: 'x'.repeat(70_000) }))).toMatchObject({ status: 413, error: { code: 'body_too_large' } });
    expect(await post('\x08\x01', 'application/x-protobuf')).toMatchObject({ status: 415, error: { code: 'protobuf_unsupported', hint: expect.stringContaining('0.25') } });
    if (wellFormed[route])
      // load_weights finds neither the checkpoint nor the model; it names the checkpoint first.
      expect(await post(JSON.stringify(wellFormed[route]))).toMatchObject({ status: 404, error: { code: expect.stringMatching(/^unknown_(model|checkpoint)$/) } });
  });
});
