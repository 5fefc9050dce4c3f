/**
 * `pnpm bench policy [--execution-provider auto|cuda|cpu] [--tokens N]`: generated tokens/s of the
 * built-in small model (DEFAULT_DECODER_CONFIG) at batch 1 and batch 32, with the KV cache and with
 * full recompute (the baseline), measured in the same run; the cache's speed-up is the ratio. Then
 * the same generation with the cache through `toolgym policy serve`'s HTTP server (POST
 * /v1/completions with token ids, the way the `openai` policy backend calls it) against in process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDefaultModel, DEFAULT_DECODER_CONFIG } from '../src/model/model-directory.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import type { ExecutionProviderPreference } from '../src/onnx/execution-provider.ts';
import { OnnxPolicy } from '../src/onnx/onnx-policy.ts';
import { serveOpenAiCompatible } from '../src/serve/openai-server.ts';

const { values } = parseArgs({
  options: {
    'execution-provider': { type: 'string', default: 'auto' },
    tokens: { type: 'string', default: '64' },
  },
});
const executionProvider = values['execution-provider'] as ExecutionProviderPreference;
const newTokens = Number(values.tokens);
const batches = [1, 32];

const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-bench-policy-'));
try {
  await createDefaultModel(dir, { seed: 0 });
  const policies = {
    cache: await OnnxPolicy.create({ model: dir, executionProvider, kvCache: true }),
    recompute: await OnnxPolicy.create({ model: dir, executionProvider, kvCache: false }),
  };
  const prompt = policies.cache.tokenizer.encode(
    new ChatTemplate(policies.cache.chatTemplate!).render(
      [{ role: 'user', content: 'Find the population of the largest city in France.' }],
      [
        {
          name: 'search',
          description: 'Web search.',
          inputSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
        },
      ],
      { addGenerationPrompt: true },
    ),
  );

  async function tokensPerSecond(policy: OnnxPolicy, batch: number): Promise<number> {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        policy.enqueue({
          tokens: prompt,
          sampling: { maxTokens: newTokens, temperature: 1, seed: i },
          ignoreEos: true,
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    return results.reduce((n, r) => n + r.tokens!.length, 0) / seconds;
  }

  // Warm-up: first runs pay for onnxruntime's kernel setup.
  await tokensPerSecond(policies.cache, 2);
  await tokensPerSecond(policies.recompute, 2);

  const ep = policies.cache.executionProvider;
  const c = DEFAULT_DECODER_CONFIG;
  process.stdout.write(
    `onnx policy, built-in small model (dModel ${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, dFF ${c.dFF}, vocab ${c.vocabSize}), ` +
      `prompt ${prompt.length} tokens, ${newTokens} new tokens per sequence\nexecution provider: ${ep.provider} (${ep.reason})\n` +
      `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (other work on the machine slows every figure alike)\n\n`,
  );
  const rows: string[][] = [];
  for (const batch of batches) {
    const recompute = await tokensPerSecond(policies.recompute, batch);
    const cache = await tokensPerSecond(policies.cache, batch);
    rows.push([
      ep.provider,
      String(batch),
      cache.toFixed(0),
      recompute.toFixed(0),
      `${(cache / recompute).toFixed(2)}×`,
    ]);
  }
  if (ep.provider !== 'cuda') {
    for (const batch of batches)
      rows.push(['cuda', String(batch), 'not measurable here', 'not measurable here', '—']);
  }
  const header = ['device', 'batch', 'tok/s with KV cache', 'tok/s full recompute (baseline)', 'speed-up'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
  if (ep.provider !== 'cuda') {
    process.stdout.write(
      '\nGPU: no CUDA here. On a GPU machine: `npm install onnxruntime-node --onnxruntime-node-install=cuda12` (CUDA 12 + cuDNN 9), ' +
        'then `pnpm bench policy --execution-provider cuda`.\n',
    );
  }

  // Over HTTP: the same requests as completions with token ids, each its own POST.
  const server = await serveOpenAiCompatible(policies.cache, { port: 0, modelName: 'bench' });
  async function httpTokensPerSecond(batch: number): Promise<number> {
    const started = performance.now();
    const bodies = await Promise.all(
      Array.from({ length: batch }, async (_, i) => {
        const response = await fetch(`${server.url}/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'bench',
            prompt,
            max_tokens: newTokens,
            temperature: 1,
            seed: i,
            ignore_eos: true,
            return_token_ids: true,
          }),
        });
        return (await response.json()) as { choices: Array<{ token_ids: number[] }> };
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return bodies.reduce((n, b) => n + b.choices[0]!.token_ids.length, 0) / seconds;
  }
  await httpTokensPerSecond(2);
  const httpRows: string[][] = [];
  for (const batch of batches) {
    const local = await tokensPerSecond(policies.cache, batch);
    const http = await httpTokensPerSecond(batch);
    httpRows.push([String(batch), local.toFixed(0), http.toFixed(0), `${(http / local).toFixed(2)}×`]);
  }
  const httpHeader = ['batch', 'tok/s in process', 'tok/s over HTTP', 'HTTP / in process'];
  const httpWidths = httpHeader.map((h, i) => Math.max(h.length, ...httpRows.map((r) => r[i]!.length)));
  const httpLine = (cells: string[]) => cells.map((cell, i) => cell.padEnd(httpWidths[i]!)).join('  ');
  process.stdout.write(
    `\nwith KV cache, through the OpenAI-compatible server (POST /v1/completions, token ids):\n${httpLine(httpHeader)}\n${httpRows.map(httpLine).join('\n')}\n`,
  );
  await server.close();
  await policies.cache.close();
  await policies.recompute.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
