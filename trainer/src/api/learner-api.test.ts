import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DecoderConfig, initDecoderWeights } from '@toolgym/agents';
import { HttpConfigError, probeGuards } from '@toolgym/http';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedLearner } from '../learner/embedded-learner.ts';
import { type Datum, datumFromSequence, type Learner, LearnerInputError } from '../learner/learner.ts';
import { type LearnerServer, serveLearner } from './learner-server.ts';
import { createRemoteLearner, LearnerApiError } from './remote-learner.ts';

const decoder: DecoderConfig = {
  vocabSize: 263,
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
  dFF: 32,
  maxPositions: 32,
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
async function trainTwoSteps(learner: Learner, between?: (step: number, call: number) => Promise<void>) {
  const out: unknown[] = [];
  for (let step = 0; step < 2; step++) {
    for (let call = 0; call < 2; call++) {
      out.push(
        await learner.forwardBackward(batch(step * 2 + call), 'ppo', {
          clipLow: 0.2,
          clipHigh: 0.28,
          entropyTopFraction: 0.5,
        }),
      );
      await between?.(step, call);
    }
    out.push(await learner.optimStep(adam));
  }
  return out;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

async function tempDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-learner-api-'));
  dirs.push(dir);
  return dir;
}

async function start(options: Parameters<typeof serveLearner>[0] = {}) {
  const server = await serveLearner({ port: 0, ...options });
  servers.push(server);
  return server;
}

describe('learner HTTP API', () => {
  it('RemoteLearner gives exactly the embedded learner’s outputs, steps and weights', async () => {
    const embedded = await createEmbeddedLearner({ decoder, weights });
    const expected = await trainTwoSteps(embedded);
    const server = await start();
    const remote = await createRemoteLearner({ url: server.url, decoder, weights });
    expect(await trainTwoSteps(remote)).toEqual(expected);
    expect((await remote.saveWeights()).weights).toEqual((await embedded.saveWeights()).weights);
    expect(await remote.saveState()).toEqual(await embedded.saveState());
    expect((await remote.info()).step).toBe(2);
    // A learner error crosses the wire as the same typed error.
    await expect(remote.optimStep(adam)).rejects.toThrow(LearnerInputError);
    await expect(remote.optimStep(adam)).rejects.toThrow(/call forwardBackward first/);
    await embedded.close();
  });

  it('the server answers while a step computes (the learner is in worker threads, here two data-parallel)', async () => {
    const server = await start({ workers: 2 });
    const remote = await createRemoteLearner({ url: server.url, decoder, weights });
    const big = Array.from({ length: 200 }, (_, k) => batch(k)).flat();
    const embedded = await createEmbeddedLearner({ decoder, weights });
    const expected = await embedded.forwardBackward(big, 'ppo');
    let done = false;
    const step = remote.forwardBackward(big, 'ppo').finally(() => {
      done = true;
    });
    // Health checks one after another until the step's answer arrives. A learner on the server's
    // own thread would hold every one of them until its step was done: one or two at most.
    let answered = 0;
    while (!done) {
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      answered++;
    }
    const out = await step;
    expect(answered).toBeGreaterThan(10);
    expect(out.metrics.loss).toBeCloseTo(expected.metrics.loss!, 5);
    expect(out.lossFnOutputs[599]!.logprobs[3]).toBeCloseTo(expected.lossFnOutputs[599]!.logprobs[3]!, 5);
    await embedded.close();
  });

  it('a server killed mid-run and restarted from its state dir: the client retries, no step applied twice or lost', async () => {
    const embedded = await createEmbeddedLearner({ decoder, weights });
    const expected = await trainTwoSteps(embedded);
    const stateDir = await tempDir();
    let server = await start({ stateDir });
    const port = Number(new URL(server.url).port);
    const remote = await createRemoteLearner({ url: server.url, decoder, weights, retryDelayMs: 50 });
    let restarts = 0;
    const restart = async () => {
      await server.close();
      server = await start({ stateDir, port });
      restarts++;
    };
    // Restart after the first forward_backward of step 1 (its gradient is lost: the client must
    // replay it) and after the second one of step 2.
    const got = await trainTwoSteps(remote, async (step, call) => {
      if ((step === 0 && call === 0) || (step === 1 && call === 1)) await restart();
    });
    expect(restarts).toBe(2);
    expect(got).toEqual(expected);
    expect(await remote.saveState()).toEqual(await embedded.saveState());

    // An optim_step that the server applied and persisted, but whose answer was lost with a
    // restart: the client resubmits the same seq_id and gets the stored result; no second step.
    let dropped = false;
    const flaky = await createRemoteLearner({
      url: server.url,
      decoder,
      weights,
      retryDelayMs: 50,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!dropped && String(input).endsWith('/retrieve_future') && String(init?.body).includes(':2"')) {
          dropped = true;
          await restart();
          throw new TypeError('fetch failed (test: connection lost after the step was applied)');
        }
        return response;
      },
    });
    const single = await createEmbeddedLearner({ decoder, weights });
    await single.forwardBackward(batch(0), 'ppo');
    await flaky.forwardBackward(batch(0), 'ppo');
    const once = await single.optimStep(adam);
    expect(await flaky.optimStep(adam)).toEqual(once);
    expect(dropped).toBe(true);
    expect(restarts).toBe(3);
    expect((await flaky.info()).step).toBe(1);
    expect((await flaky.saveWeights()).weights).toEqual((await single.saveWeights()).weights);
    await embedded.close();
    await single.close();
  });

  it('`toolgym learner serve` SIGKILLed between steps and started again: the client waits, replays, and ends exact', async () => {
    const embedded = await createEmbeddedLearner({ decoder, weights });
    const expected = await trainTwoSteps(embedded);
    const stateDir = await tempDir();
    const port = await freePort();
    const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../cli/bin/toolgym.js');
    const startProcess = async (): Promise<ChildProcess> => {
      const child = spawn(
        process.execPath,
        [cli, 'learner', 'serve', '--port', String(port), '--state-dir', stateDir],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      await new Promise<void>((resolve, reject) => {
        let text = '';
        child.stderr!.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('learner API at')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`learner serve exited with ${code}: ${text}`)));
      });
      return child;
    };
    let server = await startProcess();
    try {
      const remote = await createRemoteLearner({
        url: `http://127.0.0.1:${port}`,
        decoder,
        weights,
        retryDelayMs: 100,
      });
      // Killed after the first forward_backward of step 2: its gradient dies with the process. The
      // replacement starts while the client is already retrying the next call.
      const got = await trainTwoSteps(remote, async (step, call) => {
        if (step === 1 && call === 0) {
          server.kill('SIGKILL');
          await new Promise((r) => server.once('exit', r));
          void startProcess().then((child) => {
            server = child;
          });
        }
      });
      expect(got).toEqual(expected);
      expect(await remote.saveState()).toEqual(await embedded.saveState());
    } finally {
      server.kill('SIGKILL');
      await embedded.close();
    }
  }, 60_000);

  it('malformed requests get 400 naming the field', async () => {
    const server = await start();
    const post = (endpoint: string, body: unknown) =>
      fetch(`${server.url}/api/v1/${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const cases: Array<[string, unknown, string]> = [
      [
        'optim_step',
        { model_id: 'm', seq_id: 1, adam_params: { learning_rate: 'fast' } },
        'adam_params.learning_rate',
      ],
      ['optim_step', { model_id: 'm', seq_id: 0, adam_params: { learning_rate: 0.1 } }, 'seq_id'],
      [
        'forward_backward',
        { model_id: 'm', seq_id: 1, forward_backward_input: { data: [], loss_fn: 'ppo' } },
        'forward_backward_input.data',
      ],
      [
        'forward_backward',
        {
          model_id: 'm',
          seq_id: 1,
          forward_backward_input: {
            data: [{ model_input: { chunks: [{ tokens: [1, 2] }] }, loss_fn_inputs: {} }],
            loss_fn: 'ppo',
          },
        },
        'forward_backward_input.data.0.loss_fn_inputs.target_tokens',
      ],
      [
        'forward_backward',
        { model_id: 'm', seq_id: 1, forward_backward_input: { data: [], loss_fn: 'dpo' } },
        'forward_backward_input.data',
      ],
      ['create_model', { decoder, weights: {}, colour: 'red' }, 'colour'],
      ['retrieve_future', {}, 'request_id'],
      ['optim_step', '{not json', '(body)'],
    ];
    for (const [endpoint, body, field] of cases) {
      const response = await post(endpoint, body);
      const answer = (await response.json()) as { error: { field: string; message: string } };
      expect(response.status, `${endpoint} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.error.field).toBe(field);
      expect(answer.error.message).toContain(field === '(body)' ? 'JSON' : field);
    }
    // Well-formed but wrong: a datum whose arrays disagree is a 400 from the learner itself.
    const remote = await createRemoteLearner({ url: server.url, decoder, weights });
    const bad = batch(0);
    bad[0]!.lossFnInputs.weights = [1];
    await expect(remote.forwardBackward(bad, 'ppo')).rejects.toThrow(
      /data\[0\]\.lossFnInputs\.weights has 1 entries/,
    );
    const wrongSize = { ...weights, 'embed.tokens': new Float32Array(3) };
    await expect(createRemoteLearner({ url: server.url, decoder, weights: wrongSize })).rejects.toThrow(
      /weights\.embed\.tokens\.data_b64/,
    );
    expect((await fetch(`${server.url}/api/v1/nope`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('a non-loopback bind needs a token, and requests without it are refused', async () => {
    await expect(serveLearner({ host: '0.0.0.0', port: 0 })).rejects.toThrow(HttpConfigError);
    // a bad --workers is refused at start, not at the first create_model
    await expect(serveLearner({ port: 0, workers: 0 })).rejects.toThrow(
      /--workers must be a whole number ≥ 1, got 0/,
    );
    const server = await start({ host: '0.0.0.0', port: 0, token: 's3cret' });
    const port = new URL(server.url).port;
    const url = `http://127.0.0.1:${port}`;
    const noToken = await fetch(`${url}/api/v1/get_info`);
    expect(noToken.status).toBe(401);
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect(
      (await fetch(`${url}/api/v1/get_info`, { headers: { authorization: 'Bearer wrong!' } })).status,
    ).toBe(401);
    const refused = await createRemoteLearner({ url, decoder, weights }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LearnerApiError);
    expect((refused as LearnerApiError).code).toBe('unauthorized');
    expect((refused as LearnerApiError).message).toMatch(/bearer token/);
    const remote = await createRemoteLearner({ url, token: 's3cret', decoder, weights });
    expect((await remote.info()).parameters).toBeGreaterThan(0);
  });

  it('refuses a page of another site, a rebinding Host, an oversized body and a missing token', async () => {
    const server = await start({ host: '0.0.0.0', port: 0, token: 's3cret', maxBodyBytes: 4096 });
    const url = `http://127.0.0.1:${new URL(server.url).port}/api/v1/optim_step`;
    const probes = await probeGuards(url, { token: 's3cret', maxBodyBytes: 4096 });
    expect(probes).toEqual({
      badOrigin: { status: 403, code: 'origin_not_allowed' },
      badHost: { status: 403, code: 'host_not_allowed' },
      oversized: { status: 413, code: 'body_too_large' },
      noToken: { status: 401, code: 'unauthorized' },
    });
  });
});

describe('learner HTTP API with a RoPE decoder', () => {
  it('the wire carries positions and ropeTheta: RemoteLearner equals the embedded learner', async () => {
    const rope: DecoderConfig = { ...decoder, positions: 'rope', ropeTheta: 5000 };
    const ropeWeights = initDecoderWeights(rope, { seed: 6, std: 0.2 });
    const embedded = await createEmbeddedLearner({ decoder: rope, weights: ropeWeights });
    const expected = await trainTwoSteps(embedded);
    const server = await start();
    const remote = await createRemoteLearner({ url: server.url, decoder: rope, weights: ropeWeights });
    expect((await remote.info()).decoder).toEqual(rope);
    expect(await trainTwoSteps(remote)).toEqual(expected);
    expect((await remote.saveWeights()).weights).toEqual((await embedded.saveWeights()).weights);
    await embedded.close();
  });
});
