/**
 * `pnpm bench mcp`: latency of one `tools/call` through a ToolGym environment vs a bare MCP SDK
 * server with the same trivial tool, over stdio and Streamable HTTP, measured in one run with the
 * two servers interleaved (A B A B …) so machine drift hits both alike.
 * Target: the kit adds at most 15% over the bare SDK.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'servers.ts');
const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const ROUNDS = 10;

async function connect(kind: 'bare' | 'kit', transport: 'stdio' | 'http'): Promise<{ client: Client; stop: () => void }> {
  const client = new Client({ name: 'bench', version: '1' });
  if (transport === 'stdio') {
    const t = new StdioClientTransport({ command: process.execPath, args: ['--import', 'tsx', script, kind, 'stdio'] });
    await client.connect(t);
    return { client, stop: () => void client.close() };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script, kind, 'http'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return {
    client,
    stop: () => {
      void client.close();
      child.kill();
    },
  };
}

async function timeCalls(client: Client, n: number, out: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    out.push(performance.now() - t0);
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

const rows: string[][] = [];
for (const transport of ['stdio', 'http'] as const) {
  const bare = await connect('bare', transport);
  const kit = await connect('kit', transport);
  const times = { bare: [] as number[], kit: [] as number[] };
  await timeCalls(bare.client, 300, []); // warm-up: JIT, connection pools
  await timeCalls(kit.client, 300, []);
  const perRound = Math.ceil(CALLS / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    await timeCalls(bare.client, perRound, times.bare);
    await timeCalls(kit.client, perRound, times.kit);
  }
  bare.stop();
  kit.stop();
  const fmt = (x: number) => x.toFixed(3);
  const [b50, k50, b99, k99] = [quantile(times.bare, 0.5), quantile(times.kit, 0.5), quantile(times.bare, 0.99), quantile(times.kit, 0.99)];
  rows.push([transport, fmt(b50), fmt(k50), `${(k50 / b50).toFixed(3)}×`, fmt(b99), fmt(k99), `${(k99 / b99).toFixed(3)}×`]);
}

const header = ['transport', 'bare p50 ms', 'kit p50 ms', 'p50 ratio', 'bare p99 ms', 'kit p99 ms', 'p99 ratio'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(`tools/call latency, ${CALLS} calls per server per transport, interleaved in ${ROUNDS} rounds`);
console.log([line(header), ...rows.map(line)].join('\n'));
console.log('target: kit/bare ≤ 1.15');
