import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/toolgym.js');
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup) await c();
});

describe('toolgym policy', () => {
  // The official openai client is exercised against the same server in agents/src/serve/openai-server.test.ts.
  it('init writes the default model; serve answers chat completions; SIGTERM stops it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-cli-policy-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const model = path.join(dir, 'small');
    const init = spawnSync(process.execPath, [bin, 'policy', 'init', model, '--seed', '3'], {
      encoding: 'utf8',
    });
    expect(init.status, init.stderr).toBe(0);
    for (const file of [
      'config.json',
      'model.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
      'generation_config.json',
      'toolgym.json',
    ]) {
      expect(existsSync(path.join(model, file)), file).toBe(true);
    }

    const server: ChildProcess = spawn(
      process.execPath,
      [bin, 'policy', 'serve', '--model', model, '--port', '0', '--execution-provider', 'cpu'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    cleanup.push(async () => {
      if (server.exitCode === null) server.kill('SIGKILL');
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      server.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /serving 'small' \(policy version 0\) at (http:\/\/\S+)/.exec(stderr);
        if (match) resolve(match[1]!);
      });
      server.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });
    expect(stderr).toMatch(/execution provider cpu/);
    const response = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'small',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 4,
        seed: 1,
        return_token_ids: true,
      }),
    });
    expect(response.status).toBe(200);
    const chat = (await response.json()) as {
      choices: Array<{ message: { role: string }; token_ids: number[] }>;
      prompt_token_ids: number[];
    };
    expect(chat.choices[0]!.message.role).toBe('assistant');
    expect(chat.choices[0]!.token_ids.length).toBeGreaterThan(0);
    expect(chat.prompt_token_ids.length).toBeGreaterThan(0);

    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('serve will not listen off loopback without a token: a short message, exit 2', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-cli-policy-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const model = path.join(dir, 'small');
    expect(spawnSync(process.execPath, [bin, 'policy', 'init', model], { encoding: 'utf8' }).status).toBe(0);
    const run = spawnSync(
      process.execPath,
      [bin, 'policy', 'serve', '--model', model, '--host', '0.0.0.0', '--port', '0', '--execution-provider', 'cpu'],
      { encoding: 'utf8', env: { ...process.env, TOOLGYM_POLICY_TOKEN: '' } },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/the policy server would listen on 0\.0\.0\.0 without a token[\s\S]*--token/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('serve names the missing model directory and exits non-zero', () => {
    const run = spawnSync(
      process.execPath,
      [bin, 'policy', 'serve', '--model', '/nonexistent/toolgym-model'],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/\/nonexistent\/toolgym-model: no such model directory/);
  });
});
