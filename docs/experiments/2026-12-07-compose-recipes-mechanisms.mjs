// The mechanism table of docs/experiments/2026-12-07-compose-recipes-100-steps.md from the arms'
// metrics.jsonl and result.json in runs/arms: PRIME's implicit PRM (prm/*), RLPR's reward and
// std filter (reward/rlpr/*), 1-shot RLVR's chosen task, each as means over windows of RL steps.
// Usage, from the repository root: node docs/experiments/2026-12-07-compose-recipes-mechanisms.mjs
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const windows = [
  [1, 10],
  [11, 20],
  [41, 50],
  [91, 100],
];
const f = (x, digits = 2) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
const columns = {
  prime: {
    'training pass@1': (m) => m['reward/pass_at_1'],
    'PRM accuracy': (m) => m['prm/accuracy'],
    // What calling every episode failed scores: the PRM's verdicts must beat it to judge at all.
    'all-fail': (m) => 1 - m['reward/pass_at_1'],
    'PRM loss': (m) => m['prm/loss'],
    'Σ r_φ, passed episodes': (m) => m['prm/reward_passed'],
    'Σ r_φ, failed episodes': (m) => m['prm/reward_failed'],
  },
  rlpr: {
    'training pass@1': (m) => m['reward/pass_at_1'],
    'p(answer) after episode': (m) => m['reward/rlpr/probability'],
    'p(answer) after prompt': (m) => m['reward/rlpr/without_reasoning'],
    'reward (debiased)': (m) => m['reward/mean'],
    'groups dropped by the std filter (of 16)': (m) => m['reward/rlpr/filtered_groups'],
    'std threshold': (m) => m['reward/rlpr/std_threshold'],
  },
  'one-shot': {
    'training pass@1': (m) => m['reward/pass_at_1'],
    'zero-variance groups': (m) => m['batch/zero_variance_share'],
    entropy: (m) => m['loss/entropy'],
  },
};

for (const dir of readdirSync('runs/arms')
  .filter((d) => /^arm-(prime|rlpr|one-shot)-seed\d+$/.test(d))
  .sort()) {
  const [, recipe, seed] = /^arm-(.*)-seed(\d+)$/.exec(dir);
  const metrics = readFileSync(`runs/arms/${dir}/metrics.jsonl`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  // A run resumed from a checkpoint may repeat the steps after it: the last record of a step counts.
  const byStep = new Map(
    metrics.filter((m) => m.phase === 'rl' && m['reward/mean'] !== undefined).map((m) => [m.step, m]),
  );
  const rl = [...byStep.values()];
  console.log(`\n${recipe}, seed ${seed} (${rl.length} RL steps)`);
  const result = `runs/arms/${dir}/result.json`;
  if (recipe === 'one-shot' && existsSync(result)) {
    const { selection } = JSON.parse(readFileSync(result, 'utf8'));
    const warmup = metrics.filter((m) => m.phase === 'selection');
    console.log(
      `ranking warm-up: ${selection.steps} steps, training pass@1 ${f(warmup[0]?.['reward/pass_at_1'])} → ${f(warmup.at(-1)?.['reward/pass_at_1'])}; chose ${selection.tasks.map((t) => `${t.taskId} (variance ${f(t.variance, 3)}, ${t.visits} visits)`).join(', ')}`,
    );
  }
  const names = Object.keys(columns[recipe]);
  console.log(`| steps | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---').join('|')}|`);
  for (const [from, to] of windows) {
    const window = rl.filter((m) => m.step >= from && m.step <= to);
    if (window.length === 0) continue;
    const cells = names.map((name) => {
      const xs = window.map(columns[recipe][name]).filter((x) => x !== undefined);
      return f(xs.reduce((a, b) => a + b, 0) / xs.length);
    });
    console.log(`| ${from}–${to} | ${cells.join(' | ')} |`);
  }
}
