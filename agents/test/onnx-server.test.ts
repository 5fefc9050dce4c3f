import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { BYTE_TOKENIZER_VOCAB_SIZE } from '../src/model/byte-tokenizer.ts';
import type { DecoderConfig } from '../src/model/decoder-config.ts';
import { initDecoderWeights } from '../src/model/init-weights.ts';
import { readModelDir } from '../src/model/model-directory.ts';
import { writeDecoderModelDir } from '../src/model/write-model-directory.ts';
import { OnnxPolicy } from '../src/onnx/onnx-policy.ts';
import { serveOpenAiCompatible } from '../src/serve/openai-server.ts';
import { createPolicyFromSpec } from '../src/policy-spec.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import { composeEnvironment, inProcessClient } from './helpers.test-double.ts';

// A small random ToolGym decoder with room for a compose prompt (its output is noise: what
// matters here is that every token of the record is the engine's or the template's).
const config: DecoderConfig = {
  vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
  dModel: 32,
  nLayers: 1,
  nHeads: 4,
  dFF: 64,
  maxPositions: 2048,
  layerNormEps: 1e-5,
};

describe('OpenAI-compatible policy against the ONNX policy server (toolgym policy serve)', () => {
  it('token mode over HTTP: exact trajectory, tokens and logprobs from the ONNX engine', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-agents-onnx-'));
    await writeDecoderModelDir(dir, {
      config,
      weights: initDecoderWeights(config, { seed: 3, std: 0.3 }),
      initSeed: 3,
    });
    const engine = await OnnxPolicy.create({ model: dir, executionProvider: 'cpu' });
    const server = await serveOpenAiCompatible(engine, { port: 0, modelName: 'tiny' });
    try {
      const policy = await createPolicyFromSpec(`openai:${server.url}#tiny`, {
        toolFormat: hermesToolCalls,
        options: { tokenizer: dir },
      });
      expect(policy.tokenizer).toBeDefined();
      const env = composeEnvironment({ functions: ['reverse', 'upper'], depths: [1] });
      const task = (await env.tasks())[0]!;
      const client = await inProcessClient(env);
      const t = await playEpisode({
        client,
        policy,
        start: { taskId: task.id, seed: 5 },
        sampling: { maxTokens: 12, temperature: 1 },
        maxTurns: 2,
      });
      await client.close();

      expect(t.failure).toBeUndefined();
      expect(t.tokenization).toBe('exact');
      expect(t.turns.length).toBeGreaterThan(0);
      const sampled = t.turns.reduce((s, turn) => s + turn.sampled.end - turn.sampled.start, 0);
      expect(sampled).toBeGreaterThan(0);
      // Logprobs of sampled tokens come from the engine (negative numbers), 0 elsewhere.
      const sampledLogprobs = t.logprobs.filter((_, i) => t.lossMask[i] === 1);
      expect(sampledLogprobs.every((lp) => lp < 0)).toBe(true);
      const model = readModelDir(dir);
      expect(
        verifyTrajectoryTokens(t, model.tokenizer, new ChatTemplate(model.chatTemplate!), env.toolSpecs),
      ).toEqual({ ok: true });
    } finally {
      await server.close();
      await engine.close?.();
    }
  }, 120_000);
});
