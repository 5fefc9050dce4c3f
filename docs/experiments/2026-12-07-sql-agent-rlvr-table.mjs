// The figures of Agent-RLVR on sql from the arms in runs/arms (2026-12-07-sql-agent-rlvr-arm.sh):
// held-out pass@1 before and after RL (result.json), and over every RL episode from the replay
// store: how many were right at their first answer, how many answered wrong and were guided, and
// how many guided re-attempts were right (reward.info.failedAttempts, components.execution).
// Usage, from the repository root: node docs/experiments/2026-12-07-sql-agent-rlvr-table.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const pct = (x) => (100 * x).toFixed(1);
console.log(
  '| arm | seed | RL steps | held-out pass@1 before → after | RL episodes | right at first answer | guided | guided re-attempt right | trained sequences |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const dir of readdirSync('runs/arms')
  .filter((d) => /^arm-sql-(guided|off)-seed\d+$/.test(d))
  .sort()) {
  const [, arm, seed] = /^arm-sql-(guided|off)-seed(\d+)$/.exec(dir);
  const file = `runs/arms/${dir}/result.json`;
  if (!existsSync(file)) {
    console.log(`| ${arm} | ${seed} | (running or stopped: no result.json) |`);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const rows = JSON.parse(
    execFileSync(
      'sqlite3',
      [
        '-json',
        `runs/arms/sql-${arm}-seed${seed}.sqlite`,
        `select status, reward_json from trajectories where run_id = '${r.runId}'`,
      ],
      { maxBuffer: 1 << 28 },
    ).toString() || '[]',
  );
  const graded = rows.filter((e) => e.status !== 'failed').map((e) => JSON.parse(e.reward_json));
  const failedAttempts = (g) => g.info?.failedAttempts?.length ?? 0;
  const first = graded.filter((g) => failedAttempts(g) === 0 && g.components.execution === 1).length;
  const guided = graded.filter((g) => failedAttempts(g) > 0);
  const guidedRight = guided.filter((g) => g.components.execution === 1).length;
  const trained = readFileSync(`runs/arms/${dir}/metrics.jsonl`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((m) => m.phase === 'rl')
    .reduce((n, m) => n + (m['batch/trained_sequences'] ?? 0), 0);
  console.log(
    `| ${arm} | ${seed} | ${r.rlSteps} | ${pct(r.before)} → ${pct(r.after)} % (${r.evals[0].splits.test?.episodes ?? '?'} tasks) | ${rows.length} | ${first} | ${guided.length} | ${guidedRight} | ${trained} |`,
  );
}
