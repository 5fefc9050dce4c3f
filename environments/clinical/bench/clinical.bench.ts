/**
 * `pnpm bench clinical` — episodes per second with the scripted doctor (3 questions, the key
 * exams, the correct diagnosis), in process and over MCP Streamable HTTP, against a baseline
 * measured in the same run: the bare episode (open, diagnose at once, grade) of the same
 * environment, which isolates what the patient, the hospital and the rubric cost. Then the
 * patient simulator's field-matching accuracy on the phrasing set.
 *
 * Args: [passes over the bank's tasks, default 5]
 */
import { Environment, EnvironmentClient, serveHttp } from '@toolgym/env-kit';
import clinical, {
  DEV_PHRASINGS,
  fieldMatchingAccuracy,
  HELD_OUT_PHRASINGS,
  matchQuestion,
  questionTerms,
} from '../src/index.ts';

const passes = Number(process.argv[2] ?? 5);
const env = new Environment(clinical, clinical.parseConfig({}));
const tasks = await env.tasks();

async function inProcess(
  script: 'oracle' | 'bare',
): Promise<{ episodes: number; seconds: number; meanReward: number }> {
  let episodes = 0;
  let reward = 0;
  const started = performance.now();
  for (let pass = 0; pass < passes; pass++) {
    for (const task of tasks) {
      const episode = await env.openEpisode({ taskId: task.id, seed: pass });
      const calls = clinical.oracle!(task, env.config);
      for (const call of script === 'oracle' ? calls : calls.slice(-1))
        await episode.callTool(call.name, call.arguments);
      reward += (await episode.end()).reward.total;
      episodes++;
    }
  }
  return { episodes, seconds: (performance.now() - started) / 1000, meanReward: reward / episodes };
}

async function overHttp(): Promise<{ episodes: number; seconds: number; meanReward: number }> {
  const server = await serveHttp(env, { port: 0 });
  const client = await EnvironmentClient.connect({ kind: 'http', url: server.url });
  let episodes = 0;
  let reward = 0;
  const started = performance.now();
  try {
    for (const task of tasks) {
      await client.start({ taskId: task.id });
      const { calls } = await client.oracle();
      for (const call of calls) await client.callTool(call.name, call.arguments);
      reward += (await client.end()).reward.total;
      episodes++;
    }
  } finally {
    await client.close();
    await server.close();
  }
  return { episodes, seconds: (performance.now() - started) / 1000, meanReward: reward / episodes };
}

// Warm up (module caches, JIT) before timing.
await inProcess('bare');

const bare = await inProcess('bare');
const oracle = await inProcess('oracle');
const http = await overHttp();

const rate = (r: { episodes: number; seconds: number }) => r.episodes / r.seconds;
const row = (name: string, r: { episodes: number; seconds: number; meanReward: number }, note: string) =>
  `| ${name.padEnd(44)} | ${String(r.episodes).padStart(8)} | ${rate(r).toFixed(1).padStart(10)} | ${r.meanReward.toFixed(3).padStart(11)} | ${note.padEnd(28)} |`;

console.log(`\nclinical@1 — ${tasks.length} tasks × ${passes} passes, node ${process.version}\n`);
console.log(
  '| run                                          | episodes | episodes/s | mean reward | vs baseline                  |',
);
console.log(
  '|----------------------------------------------|---------:|-----------:|------------:|------------------------------|',
);
console.log(row('baseline: bare episode (diagnose only)', bare, '1.00×'));
console.log(
  row('scripted doctor, in process', oracle, `${(rate(oracle) / rate(bare)).toFixed(2)}× the baseline rate`),
);
console.log(
  row(
    'scripted doctor, MCP Streamable HTTP (1 pass)',
    http,
    `${(rate(http) / rate(oracle)).toFixed(2)}× the in-process rate`,
  ),
);

const questions = [...DEV_PHRASINGS, ...HELD_OUT_PHRASINGS].map((p) => p.question);
const reps = 200;
let t = performance.now();
for (let i = 0; i < reps; i++) for (const q of questions) questionTerms(q);
const normaliseOnly = (reps * questions.length) / ((performance.now() - t) / 1000);
t = performance.now();
// Unique strings defeat the matcher's memo, so this times real matching.
for (let i = 0; i < reps; i++) for (const q of questions) matchQuestion(`${q} ${i}`);
const matchRate = (reps * questions.length) / ((performance.now() - t) / 1000);

const dev = fieldMatchingAccuracy(DEV_PHRASINGS);
const heldOut = fieldMatchingAccuracy(HELD_OUT_PHRASINGS);
console.log('\npatient simulator: question → case field\n');
console.log('| phrasing set                               | phrasings | accuracy |');
console.log('|--------------------------------------------|----------:|---------:|');
console.log(
  `| dev (cue lists tuned on it)                | ${String(dev.total).padStart(9)} | ${(100 * dev.accuracy).toFixed(1).padStart(7)}% |`,
);
console.log(
  `| held-out (written after tuning, not tuned) | ${String(heldOut.total).padStart(9)} | ${(100 * heldOut.accuracy).toFixed(1).padStart(7)}% |`,
);
console.log(
  `\nmatching throughput: ${Math.round(matchRate).toLocaleString()} questions/s (baseline, normalisation alone: ${Math.round(normaliseOnly).toLocaleString()}/s; ratio ${(matchRate / normaliseOnly).toFixed(2)})`,
);
if (heldOut.misses.length > 0) {
  console.log('held-out misses:');
  for (const m of heldOut.misses) console.log(`  "${m.question}" → ${m.got} (expected ${m.expected})`);
}
