// The table of docs/experiments/2026-12-07-compose-recipes.md from the arms' outputs in runs/arms:
// each run's result.json, and for Try Again the first answer of each held-out evaluation episode,
// read from the run's replay store (the sqlite3 command-line tool).
// Usage, from the repository root: node docs/experiments/2026-12-07-compose-recipes-table.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const pct = (x) => (x === undefined ? '–' : (100 * x).toFixed(1));
const rows = [];
// Per arm and seed, for the summary: held-out accuracy and composed share, before and after.
const runs = {};
for (const dir of readdirSync('runs/arms')
  .filter((d) => /^arm-.*-seed\d+$/.test(d))
  .sort()) {
  const file = `runs/arms/${dir}/result.json`;
  if (!existsSync(file)) {
    rows.push(`| ${dir} | (running or stopped: no result.json) |`);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const [, recipe, seed] = /^arm-(.*)-seed(\d+)$/.exec(dir);
  const first = r.evals[0];
  const last = r.evals.at(-1);
  const composed = (e) => e.splits.test.components.composed;
  // Held-out episodes are those whose ordered pair is a held-out unit; validation episodes are not.
  const units = new Set(r.evals.flatMap((e) => Object.keys(e.splits.test.units ?? {})));
  const db = `runs/arms/${recipe}-seed${seed}.sqlite`;
  const sql = (query) =>
    JSON.parse(execFileSync('sqlite3', ['-json', db, query], { maxBuffer: 1 << 28 }).toString() || '[]');
  // Training episodes cut at the context (policy.model.maxPositions), which get no gradient.
  const [cut] = sql(
    `select avg(coalesce(truncation, '') = 'token_budget') as share from trajectories where run_id = '${r.runId}'`,
  );
  // Training batches' composed share (reward/component/composed), over the first and the last 5 steps.
  const steps = readFileSync(`runs/arms/${dir}/metrics.jsonl`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .filter((m) => m.phase === 'rl');
  const mean = (ms) => ms.reduce((s, m) => s + m['reward/component/composed'], 0) / ms.length;
  const train = `${pct(mean(steps.slice(0, 5)))} → ${pct(mean(steps.slice(-5)))}`;
  let firstAnswer = '';
  if (recipe === 'try-again') {
    const episodes = sql(
      `select step, task_id, reward_json from trajectories where run_id = '${r.runId}-eval'`,
    );
    const at = (step) => {
      const held = episodes.filter((e) => {
        const [, pair] = /^d2-([^-]+)-/.exec(e.task_id);
        return e.step === step && units.has(pair.replace('.', '>'));
      });
      const c = held.map((e) => JSON.parse(e.reward_json).components);
      const right = c.filter((x) => x.composed === 1 && x.attempts === 1).length;
      return `${pct(right / held.length)} (${held.length})`;
    };
    firstAnswer = `${at(first.step)} → ${at(last.step)}`;
  }
  runs[recipe] = {
    ...runs[recipe],
    [seed]: { acc: [r.before, r.after], composed: [composed(first), composed(last)] },
  };
  rows.push(
    `| ${recipe} | ${seed} | ${pct(r.before)} → ${pct(r.after)} | ${pct(composed(first))} → ${pct(composed(last))} | ${firstAnswer} | ${train} | ${pct(cut.share)} | ${r.best.step}: ${pct(r.best.validation)} / ${pct(r.best.accuracy)} | ${r.rlSteps} | ${(r.rlSeconds / 60).toFixed(1)} | ${r.evals.map((e) => `${e.step}:${pct(e.accuracy)}`).join(' ')} |`,
  );
}
console.log(
  '| arm | seed | held-out accuracy, before → after | composed, before → after | Try Again: first answer composed, before → after (episodes) | training composed, steps 1–5 → last 5 | training episodes cut at the context | best: step: validation / held-out | RL steps | RL min | curve |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);

// Mean ± sample standard deviation over seeds, and each seed's difference from the GRPO arm (`main`).
const stats = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return `${(100 * m).toFixed(1)} ± ${(100 * sd).toFixed(1)}`;
};
console.log('');
console.log(
  "| arm | seeds | held-out accuracy after | change (after − before) | after − GRPO's, per seed (points) | composed after | composed after − GRPO's, per seed (points) |",
);
console.log('|---|---|---|---|---|---|---|');
for (const [recipe, bySeed] of Object.entries(runs)) {
  const seeds = Object.keys(bySeed);
  const v = seeds.map((s) => bySeed[s]);
  const vsGrpo = (key) =>
    seeds
      .map((s) => (runs.main?.[s] ? (100 * (bySeed[s][key][1] - runs.main[s][key][1])).toFixed(1) : '–'))
      .join(', ');
  console.log(
    `| ${recipe} | ${seeds.join(', ')} | ${stats(v.map((x) => x.acc[1]))} | ${stats(v.map((x) => x.acc[1] - x.acc[0]))} | ${vsGrpo('acc')} | ${stats(v.map((x) => x.composed[1]))} | ${vsGrpo('composed')} |`,
  );
}
