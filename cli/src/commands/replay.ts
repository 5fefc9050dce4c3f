import type { FeedEventMessage } from '@toolgym/protocol';
import {
  exportJsonl,
  exportParquet,
  FeedClient,
  ReplayError,
  serveReplay,
  TrajectoryStore,
} from '@toolgym/replay';
import type { Command } from 'commander';
import { portNumber, positiveInt, wholeNumber } from '../flags.ts';
import { closeOnSignal, listening } from '../serving.ts';
import { addListenFlags, type ListenFlags, listenOptionsOf } from './listen-flags.ts';

export function registerReplayCommands(program: Command): void {
  const replay = program
    .command('replay')
    .description('The trajectory store: serve the feed and viewer, tail a run, export.');

  addListenFlags(
    replay
      .command('serve')
      .description('Serve the websocket feed, the JSON API and the browser viewer of a trajectory store.'),
  )
    .requiredOption('--store <path>', 'SQLite trajectory store (created if missing)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '7070')
    .option(
      '--token <token>',
      'bearer token clients must send (required off loopback)',
      process.env.TOOLGYM_TOKEN,
    )
    .option('--no-viewer', 'serve only the feed and the API')
    .option('--max-clients <n>', 'most feed connections at once', '1024')
    .action(
      async (
        opts: ListenFlags & {
          store: string;
          host: string;
          port: string;
          token?: string;
          viewer: boolean;
          maxClients: string;
        },
      ) => {
        const address = { host: opts.host, port: portNumber(opts.port, '--port') };
        const server = await listening('--port', address, () =>
          serveReplay({
            ...listenOptionsOf(opts),
            maxClients: positiveInt(opts.maxClients, '--max-clients'),
            storePath: opts.store,
            ...address,
            viewer: opts.viewer,
            ...(opts.token ? { token: opts.token } : {}),
          }),
        );
        const suffix = opts.token ? '?token=<token>' : '';
        process.stderr.write(
          `toolgym: replay of ${opts.store}\n  viewer ${server.url}${suffix}\n  feed   ${server.feedUrl}\n`,
        );
        closeOnSignal(() => server.close());
      },
    );

  replay
    .command('tail <run>')
    .description('Print the trajectories of a run as they arrive (resumes after a dropped connection).')
    .option('--url <url>', 'feed URL of a running `toolgym replay serve`', 'ws://127.0.0.1:7070/feed')
    .option('--token <token>', 'bearer token', process.env.TOOLGYM_TOKEN)
    .option('--from-start', 'print the run from its first event, then follow')
    .option('--after <cursor>', 'start after this cursor')
    .option('--turns', 'print each turn too')
    .option('--json', 'print every feed message as one JSON line')
    .action(
      async (
        runId: string,
        opts: {
          url: string;
          token?: string;
          fromStart?: boolean;
          after?: string;
          turns?: boolean;
          json?: boolean;
        },
      ) => {
        const after =
          opts.after !== undefined
            ? wholeNumber(opts.after, '--after')
            : opts.fromStart
              ? 0
              : await currentHead(opts.url, opts.token);
        const client = new FeedClient({
          url: opts.url,
          ...(opts.token ? { token: opts.token } : {}),
          subscribe: { runId, after, mode: 'live' },
          onEvent: (message) => {
            const line = opts.json ? JSON.stringify(message) : formatEvent(message, opts.turns ?? false);
            if (line) process.stdout.write(`${line}\n`);
          },
          onControl: (message) => {
            if (opts.json) process.stdout.write(`${JSON.stringify(message)}\n`);
            else if (message.type === 'overflow')
              process.stderr.write(`toolgym: fell behind; resuming after ${message.resumeAfter}\n`);
            else if (message.type === 'write-failed')
              process.stderr.write(
                `toolgym: the store did not write events ${message.seqs.join(', ')} of run ${message.runId} (shown above as pending): ${message.message}\n`,
              );
          },
        });
        process.on('SIGINT', () => {
          client.close();
          process.exit(0);
        });
        await client.done;
      },
    );

  replay
    .command('export')
    .description(
      'Export trajectories as JSONL (TrajectorySchema per line) or Parquet (trainer dataset columns).',
    )
    .requiredOption('--store <path>', 'SQLite trajectory store')
    .requiredOption('--out <file>', 'output file')
    .option('--run <id>', 'one run only')
    .option('--format <format>', 'jsonl or parquet (default: from the file extension)')
    .action(async (opts: { store: string; out: string; run?: string; format?: string }) => {
      const format = opts.format ?? (opts.out.endsWith('.parquet') ? 'parquet' : 'jsonl');
      if (format !== 'jsonl' && format !== 'parquet') {
        throw new ReplayError(
          'invalid_config',
          `Unknown export format '${format}'.`,
          'Use --format jsonl or --format parquet.',
        );
      }
      const store = TrajectoryStore.open(opts.store, { readonly: true });
      try {
        const query = opts.run ? { runId: opts.run } : {};
        const count =
          format === 'parquet'
            ? await exportParquet(store, opts.out, query)
            : await exportJsonl(store, opts.out, query);
        process.stderr.write(`toolgym: wrote ${count} trajectories to ${opts.out}\n`);
      } finally {
        store.close();
      }
    });
}

/** Where an event is in the log: its cursor, or `pending` and its run's seq before its commit. */
function position(message: FeedEventMessage): string {
  return message.cursor !== undefined ? String(message.cursor) : `pending #${message.seq}`;
}

/** One terminal line per event; turns only when asked. */
export function formatEvent(message: FeedEventMessage, turns: boolean): string | undefined {
  switch (message.type) {
    case 'trajectory': {
      const s = message.summary;
      const components = Object.entries(s.reward.components)
        .map(([k, v]) => `${k}=${Number(v.toFixed(3))}`)
        .join(' ');
      const text = s.finalText.replace(/\s+/g, ' ').slice(0, 80);
      return `[${position(message)}] step ${s.step ?? '-'}  ${s.envId}/${s.taskId}  ${s.id}  reward ${s.reward.total.toFixed(3)} (${components})  ${s.turns} turns ${s.tokens} tok  ${s.status}  "${text}"`;
    }
    case 'turn': {
      if (!turns) return undefined;
      const calls = message.turn.toolCalls.map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join(', ');
      return `[${position(message)}]   ${message.trajectoryId} turn ${message.turn.index}: ${message.turn.text.replace(/\s+/g, ' ').slice(0, 100)}${calls ? ` → ${calls}` : ''}`;
    }
    case 'step-metrics':
      return `[${position(message)}] step ${message.step} metrics ${Object.entries(message.metrics)
        .map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`)
        .join(' ')}`;
    case 'run':
      return `[${position(message)}] run ${message.runId} ${message.status}`;
    case 'episode':
      return `[${position(message)}] ${message.trajectoryId} unfinished after ${message.turns} turns: ${message.reason}`;
  }
}

async function currentHead(feedUrl: string, token?: string): Promise<number> {
  const url = new URL(feedUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '/api/health';
  url.search = '';
  let res: Response;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (error) {
    throw new ReplayError(
      'unreachable',
      `No replay server at ${feedUrl}: ${(error as Error).message}`,
      'Start one with `toolgym replay serve --store <path>`, or pass --url.',
    );
  }
  if (res.status === 401)
    throw new ReplayError(
      'unauthorized',
      `The server at ${feedUrl} wants a token.`,
      'Pass --token or set TOOLGYM_TOKEN.',
    );
  return ((await res.json()) as { head: number }).head;
}
