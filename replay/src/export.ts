import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { plainArray, type Trajectory, trajectoryJson } from '@toolgym/protocol';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { fileWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import type { TrajectoryStore } from './store.ts';

/** Trajectories per Parquet row group (and per write batch: an export never holds a whole run). */
const ROWS_PER_GROUP = 256;

/** One JSON trajectory (TrajectorySchema) per line. Returns the number written. */
export async function exportJsonl(
  store: TrajectoryStore,
  file: string,
  query: { runId?: string } = {},
): Promise<number> {
  const out = createWriteStream(file);
  let count = 0;
  for (const t of store.iterateTrajectories(query)) {
    if (!out.write(`${JSON.stringify(trajectoryJson(t))}\n`)) await once(out, 'drain');
    count++;
  }
  out.end();
  await once(out, 'finish');
  return count;
}

/**
 * One row of the Parquet export, in the layout RL trainers' datasets read (verl / TRL / OpenRLHF
 * style): the prompt and the response as separate token-id lists. The response is everything after
 * the prompt, tool observations included; `response_loss_mask` is 1 only on sampled tokens.
 * Documented column by column in replay/README.md.
 */
export interface ParquetRow {
  id: string;
  run_id: string;
  step: number | null;
  group_id: string | null;
  env_id: string;
  task_id: string;
  seed: bigint;
  status: string;
  tokenization: string;
  reward: number;
  /** RewardBreakdown as JSON: components, weights, info, steps. */
  reward_breakdown: string;
  num_turns: number;
  prompt_ids: number[];
  response_ids: number[];
  response_loss_mask: number[];
  /** Behaviour logprobs: under the distribution each token was drawn from. */
  response_logprobs: number[];
  /** The policy's own logprobs; null when the engine did not report them. */
  response_policy_logprobs: number[] | null;
  /** Null until the trainer has stored advantages. */
  response_advantages: number[] | null;
  /** The conversation (MessageSchema[]) as JSON. */
  messages: string;
  policy_versions: number[];
}

const listOf = (name: string, type: 'INT32' | 'FLOAT', optional = false): SchemaElement[] => [
  { name, repetition_type: optional ? 'OPTIONAL' : 'REQUIRED', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type, repetition_type: 'REQUIRED' },
];
const string = (name: string, optional = false): SchemaElement => ({
  name,
  type: 'BYTE_ARRAY',
  converted_type: 'UTF8',
  repetition_type: optional ? 'OPTIONAL' : 'REQUIRED',
});

const COLUMNS = [
  'id',
  'run_id',
  'step',
  'group_id',
  'env_id',
  'task_id',
  'seed',
  'status',
  'tokenization',
  'reward',
  'reward_breakdown',
  'num_turns',
  'prompt_ids',
  'response_ids',
  'response_loss_mask',
  'response_logprobs',
  'response_policy_logprobs',
  'response_advantages',
  'messages',
  'policy_versions',
] as const satisfies ReadonlyArray<keyof ParquetRow>;

const PARQUET_SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: COLUMNS.length },
  string('id'),
  string('run_id'),
  { name: 'step', type: 'INT32', repetition_type: 'OPTIONAL' },
  string('group_id', true),
  string('env_id'),
  string('task_id'),
  { name: 'seed', type: 'INT64', repetition_type: 'REQUIRED' },
  string('status'),
  string('tokenization'),
  { name: 'reward', type: 'DOUBLE', repetition_type: 'REQUIRED' },
  string('reward_breakdown'),
  { name: 'num_turns', type: 'INT32', repetition_type: 'REQUIRED' },
  ...listOf('prompt_ids', 'INT32'),
  ...listOf('response_ids', 'INT32'),
  ...listOf('response_loss_mask', 'INT32'),
  ...listOf('response_logprobs', 'FLOAT'),
  ...listOf('response_policy_logprobs', 'FLOAT', true),
  ...listOf('response_advantages', 'FLOAT', true),
  string('messages'),
  ...listOf('policy_versions', 'INT32'),
];

/** The Parquet row of a trajectory. */
export function toParquetRow(t: Trajectory): ParquetRow {
  const p = t.promptLength;
  return {
    id: t.id,
    run_id: t.runId ?? '',
    step: t.step ?? null,
    group_id: t.groupId ?? null,
    env_id: t.envId,
    task_id: t.taskId,
    seed: BigInt(t.seed),
    status: t.status,
    tokenization: t.tokenization,
    reward: t.reward.total,
    reward_breakdown: JSON.stringify(t.reward),
    num_turns: t.turns.length,
    prompt_ids: plainArray(t.tokens.subarray(0, p)),
    response_ids: plainArray(t.tokens, p),
    response_loss_mask: plainArray(t.lossMask, p),
    response_logprobs: plainArray(t.logprobs, p),
    response_policy_logprobs: t.policyLogprobs ? plainArray(t.policyLogprobs, p) : null,
    response_advantages: t.advantages ? t.advantages.slice(p) : null,
    messages: JSON.stringify(t.messages),
    policy_versions: t.turns.map((turn) => turn.policyVersion),
  };
}

/** Write a run (or the whole store) as Parquet, streamed in row groups. Returns the number of rows. */
export async function exportParquet(
  store: TrajectoryStore,
  file: string,
  query: { runId?: string } = {},
): Promise<number> {
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    schema: PARQUET_SCHEMA,
    kvMetadata: [{ key: 'toolgym.format', value: 'trajectories/v1' }],
    createdBy: '@toolgym/replay',
  });
  let batch: ParquetRow[] = [];
  let count = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const columnData = COLUMNS.map((name) => ({ name, data: batch.map((row) => row[name]) }));
    await writer.write({ columnData: columnData as never, rowGroupSize: ROWS_PER_GROUP });
    batch = [];
  };
  for (const t of store.iterateTrajectories(query)) {
    batch.push(toParquetRow(t));
    count++;
    if (batch.length === ROWS_PER_GROUP) await flush();
  }
  await flush();
  await writer.finish();
  return count;
}

/** Read an export back (for checks and for tools in this workspace). */
export async function readParquetExport(file: string): Promise<ParquetRow[]> {
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Array<
    Record<string, unknown>
  >;
  return rows.map((r) => ({
    ...(r as unknown as ParquetRow),
    step: (r.step as number | undefined) ?? null,
    group_id: (r.group_id as string | undefined) ?? null,
    response_policy_logprobs: (r.response_policy_logprobs as number[] | undefined) ?? null,
    response_advantages: (r.response_advantages as number[] | undefined) ?? null,
  }));
}
