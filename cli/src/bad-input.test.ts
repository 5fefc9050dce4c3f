/**
 * A user's mistake, in every command group, ends in one short block on stderr (`toolgym: <what>`,
 * `→ <what to fix>`, `(<code>)`) and exit code 2: never a Node stack trace.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { initDecoderWeights, writeDecoderModelDir } from '@toolgym/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToolgym, temporaryDirectories, tinyDecoder } from './commands/test-support.ts';

const tempDir = temporaryDirectories('toolgym-cli-bad-input-');

/** A port this test holds, so that any server asked for it finds it taken. */
let busy: Server;
let busyPort: string;
/** A scratch directory with the files the mistakes below name. */
let dir: string;
/** A model directory `policy serve` can load, to reach its port. */
let model: string;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = String((busy.address() as { port: number }).port);
  dir = await tempDir();
  // A bad key at the top level and one inside a section.
  await writeFile(
    path.join(dir, 'bad-key.yaml'),
    'environment: { id: compose }\nrl: { tasks: { split: train }, stepz: 3 }\neval: { tasks: { split: test } }\nlearning_rate: 0.1\n',
  );
  await writeFile(path.join(dir, 'broken.yaml'), 'environment: [compose\n');
  await writeFile(
    path.join(dir, 'good.yaml'),
    `run: { outDir: ${JSON.stringify(path.join(dir, 'runs'))} }\nenvironment: { id: compose }\nrl: { tasks: { split: train } }\neval: { tasks: { split: test } }\n`,
  );
  // Spider's dev.json is one JSON array; this one is JSON lines, as an export might write it.
  await mkdir(path.join(dir, 'spider'));
  const question = JSON.stringify({ db_id: 'concert', question: 'How many singers?', query: 'SELECT 1' });
  await writeFile(path.join(dir, 'spider', 'dev.json'), `${question}\n${question}\n`);
  await writeFile(path.join(dir, 'a-file'), 'not a directory');
  model = path.join(dir, 'model');
  const decoder = tinyDecoder(0, 32);
  await writeDecoderModelDir(model, { config: decoder, weights: initDecoderWeights(decoder, { seed: 1 }) });
});

afterAll(async () => {
  await new Promise((resolve) => busy.close(resolve));
});

interface Mistake {
  group: string;
  what: string;
  args: () => string[];
  /** What the block must say. */
  says: RegExp;
  code: string;
}

const mistakes: Mistake[] = [
  {
    group: 'env',
    what: 'a busy port',
    args: () => ['env', 'serve', 'compose', '--http', busyPort],
    says: /port \d+ on 127\.0\.0\.1 is already in use[\s\S]*--http/,
    code: 'port_in_use',
  },
  {
    group: 'env',
    what: 'a busy port for --openenv',
    args: () => ['env', 'serve', 'compose', '--openenv', busyPort],
    says: /port \d+ on 127\.0\.0\.1 is already in use[\s\S]*--openenv/,
    code: 'port_in_use',
  },
  {
    group: 'env',
    what: '--http and --openenv together',
    args: () => ['env', 'serve', 'compose', '--http', '0', '--openenv', '0'],
    says: /--http and --openenv both given[\s\S]*one protocol per process/,
    code: 'invalid_config',
  },
  {
    group: 'env',
    what: '--openenv off loopback without a token',
    args: () => ['env', 'serve', 'compose', '--openenv', '0', '--host', '0.0.0.0', '--token', ''],
    says: /OpenEnv server would listen on 0\.0\.0\.0 without a token[\s\S]*--token/,
    code: 'token_required',
  },
  {
    group: 'env',
    what: 'bad --options JSON',
    args: () => ['env', 'tasks', 'compose', '--options', '{depths: [2]}'],
    says: /--options is not valid JSON/,
    code: 'invalid_config',
  },
  {
    group: 'envs',
    what: 'an unknown environment',
    args: () => ['env', 'tasks', 'compse'],
    says: /No environment 'compse'\. Did you mean 'compose'\?/,
    code: 'unknown_environment',
  },
  {
    group: 'eval',
    what: 'an unsupported dataset file (Spider as JSON lines)',
    args: () => [
      'eval',
      '--env',
      'sql',
      '--dataset',
      `spider:${path.join(dir, 'spider')}`,
      '--policy',
      'oracle',
    ],
    says: /spider\/dev\.json is not JSON[\s\S]*one JSON array of questions/,
    code: 'invalid_config',
  },
  {
    group: 'eval',
    what: 'a bad policy spec',
    args: () => ['eval', '--env', 'compose', '--policy', 'onnx'],
    says: /the onnx policy needs a model directory/,
    code: 'invalid_policy_spec',
  },
  {
    group: 'eval',
    what: 'an unknown policy scheme',
    args: () => ['eval', '--env', 'compose', '--policy', 'vllm:http://gpu:8000'],
    says: /unknown policy 'vllm:http:\/\/gpu:8000'[\s\S]*known policy schemes: onnx, openai, oracle, random/,
    code: 'invalid_policy_spec',
  },
  {
    group: 'policy',
    what: 'a missing model directory',
    args: () => ['policy', 'serve', '--model', path.join(dir, 'no-model')],
    says: /no-model: no such model directory/,
    code: 'missing_model_dir',
  },
  {
    group: 'policy',
    what: 'a busy port',
    args: () => ['policy', 'serve', '--model', model, '--port', busyPort],
    says: /port \d+ on 127\.0\.0\.1 is already in use[\s\S]*--port/,
    code: 'port_in_use',
  },
  {
    group: 'policy',
    what: 'a model directory that cannot be written',
    args: () => ['policy', 'init', path.join(dir, 'a-file', 'model')],
    says: /a-file\/model: cannot write the model directory \(ENOTDIR\)/,
    code: 'unwritable_model_dir',
  },
  {
    group: 'replay',
    what: 'a busy port',
    args: () => [
      'replay',
      'serve',
      '--store',
      path.join(dir, 'replay.sqlite'),
      '--port',
      busyPort,
      '--no-viewer',
    ],
    says: /port \d+ on 127\.0\.0\.1 is already in use[\s\S]*--port/,
    code: 'port_in_use',
  },
  {
    group: 'replay',
    what: 'a missing store',
    args: () => [
      'replay',
      'export',
      '--store',
      path.join(dir, 'no-store.sqlite'),
      '--out',
      path.join(dir, 'x.jsonl'),
    ],
    says: /Cannot open the trajectory store/,
    code: 'invalid_config',
  },
  {
    group: 'train',
    what: 'a bad YAML key',
    args: () => ['train', path.join(dir, 'bad-key.yaml')],
    says: /bad-key\.yaml is not a valid training config:[\s\S]*rl: Unrecognized key: "stepz"[\s\S]*Unrecognized key: "learning_rate"/,
    code: 'invalid_train_config',
  },
  {
    group: 'train',
    what: 'a missing config file',
    args: () => ['train', path.join(dir, 'no-such.yaml')],
    says: /cannot read the training config .*no-such\.yaml \(ENOENT\)/,
    code: 'invalid_train_config',
  },
  {
    group: 'train',
    what: 'a config that is not YAML',
    args: () => ['train', path.join(dir, 'broken.yaml')],
    says: /broken\.yaml is not valid YAML: .*line 2/,
    code: 'invalid_train_config',
  },
  {
    group: 'train',
    what: 'a busy port for the live feed',
    args: () => ['train', path.join(dir, 'good.yaml'), '--serve', busyPort],
    says: /port \d+ on 127\.0\.0\.1 is already in use[\s\S]*--serve/,
    code: 'port_in_use',
  },
  {
    group: 'learner',
    what: 'a busy port',
    args: () => ['learner', 'serve', '--port', busyPort],
    says: /port \d+ on 127\.0\.0\.1 is already in use[\s\S]*--port/,
    code: 'port_in_use',
  },
  {
    group: 'learner',
    what: 'no token off loopback',
    args: () => ['learner', 'serve', '--host', '0.0.0.0', '--port', '0'],
    says: /the learner API would listen on 0\.0\.0\.0 without a token[\s\S]*--token/,
    code: 'token_required',
  },
  {
    group: 'learner',
    what: 'a run directory without checkpoints',
    args: () => ['learner', 'publish', path.join(dir, 'no-run')],
    says: /no intact checkpoint in .*no-run\/checkpoints/,
    code: 'invalid_config',
  },
];

describe.concurrent('a mistake in every command group is a short block and exit code 2', () => {
  it.each(mistakes)('$group: $what', async ({ args, says, code }) => {
    const run = await runToolgym(args());
    expect(run.code, run.stderr).toBe(2);
    if (code === 'port_in_use') expect(run.stderr).toContain(`port ${busyPort} `);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^toolgym: /);
    expect(run.stderr).toMatch(says);
    // What to fix, then the stable code.
    expect(lines.some((line) => line.startsWith('  → '))).toBe(true);
    expect(lines.at(-1)).toBe(`  (${code})`);
    // No stack frame, no Node error banner, and short.
    expect(run.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(run.stderr).not.toMatch(/^(\w*Error|node:\w+)/m);
    expect(lines.length).toBeLessThanOrEqual(8);
  });
});
