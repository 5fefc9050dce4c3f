import { describe, expect, it } from 'vitest';
import compose from '@toolgym/env-compose';
import { EnvironmentClient, Environment, serveHttp } from '@toolgym/env-kit';
import path from 'node:path';


const env = new Environment(compose, compose.parseConfig({}));

async function playOracle(client: EnvironmentClient) {
  const start = await client.start({ split: 'test', seed: 3 });
  const { calls } = await client.oracle();
  let last;
  for (const c of calls) last = await client.callTool(c.name, c.arguments);
  const bad = await client.callTool('reverse', { text: 5 } as never);
  const end = await client.end();
  return { start, last, bad, end };
}

describe('smoke', () => {
  it('in-process', async () => {
    const c = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
    const r = await playOracle(c);
    expect(r.end.reward.components.correct).toBe(1);
    expect(r.last?.terminated).toBe(true);
    console.log(r.bad);
    await c.close();
  });
  it('stdio', async () => {
    const c = await EnvironmentClient.connect({ kind: 'stdio', command: process.execPath, args: [path.join('/work/main', 'cli/bin/toolgym.js'), 'env', 'serve', 'compose'] });
    const r = await playOracle(c);
    expect(r.end.reward.components.correct).toBe(1);
    await c.close();
  });
  it('http', async () => {
    const s = await serveHttp(env);
    const c = await EnvironmentClient.connect({ kind: 'http', url: s.url });
    const r = await playOracle(c);
    expect(r.end.reward.components.correct).toBe(1);
    await c.close();
    await s.close();
  });
});
