/**
 * Realistic test trajectories: a system + user prompt, assistant turns that call tools, tool
 * results, a final answer, exact token spans with the loss mask on sampled tokens only, Float32
 * logprobs, a weighted reward breakdown. Deterministic in `seed`. Every one validates against
 * TrajectorySchema (the store checks that on append).
 */
import {
  type EpisodeTurn,
  type Message,
  plainArray,
  type Trajectory,
  type TrajectoryGroup,
  TrajectoryGroupSchema,
  type Turn,
} from '@toolgym/protocol';

export interface GenerateOptions {
  runId: string;
  step: number;
  taskIndex: number;
  groupSize?: number;
  /** Average tokens per sampled turn (full-size benches use more). */
  tokensPerTurn?: number;
  envId?: string;
  seed?: number;
  startedAt?: number;
}

/** mulberry32: a small seeded PRNG so that every generated dataset is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOOLS = ['search', 'read_page', 'run_sql', 'calculator'];
const WORDS =
  'the of capital river population table query rows result answer city year founded north value'.split(' ');

export function makeGroup(options: GenerateOptions): TrajectoryGroup {
  const groupSize = options.groupSize ?? 4;
  const envId = options.envId ?? (options.taskIndex % 2 === 0 ? 'search@1' : 'sql@1');
  const taskId = `task-${options.taskIndex}`;
  const groupId = `${options.runId}-s${options.step}-t${options.taskIndex}`;
  const random = rng((options.seed ?? 1) * 1_000_003 + options.step * 7919 + options.taskIndex);
  const trajectories = Array.from({ length: groupSize }, (_, i) =>
    makeTrajectory({
      id: `${groupId}-e${i}`,
      runId: options.runId,
      step: options.step,
      groupId,
      envId,
      taskId,
      seed: options.step * 100 + i,
      random,
      tokensPerTurn: options.tokensPerTurn ?? 24,
      startedAt: (options.startedAt ?? 1_700_000_000_000) + options.step * 60_000,
    }),
  );
  return TrajectoryGroupSchema.parse({
    schemaVersion: 1,
    id: groupId,
    runId: options.runId,
    step: options.step,
    envId,
    taskId,
    trajectories,
  });
}

function sentence(random: () => number, words: number): string {
  return Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
}

function makeTrajectory(o: {
  id: string;
  runId: string;
  step: number;
  groupId: string;
  envId: string;
  taskId: string;
  seed: number;
  random: () => number;
  tokensPerTurn: number;
  startedAt: number;
}): Trajectory {
  const { random } = o;
  const tokens: number[] = [];
  const lossMask: Array<0 | 1> = [];
  const logprobs: number[] = [];
  const policyLogprobs: number[] = [];
  const push = (n: number, sampled: boolean) => {
    for (let k = 0; k < n; k++) {
      tokens.push(Math.floor(random() * 32_000));
      lossMask.push(sampled ? 1 : 0);
      // Float32 values, as an engine samples them: the store keeps logprobs as Float32.
      const logprob = sampled ? Math.fround(-random() * random() * 6) : 0;
      logprobs.push(logprob);
      // The policy's own distribution, before the truncation sampling applied: a little less sure.
      policyLogprobs.push(Math.fround(logprob * 1.1));
    }
  };
  // One task, one prompt: every episode of a group answers the same question.
  const prompt = `Question ${o.taskId}: what is the ${sentence(rng(Number(o.taskId.split('-')[1]) + 17), 6)}?`;
  const messages: Message[] = [
    { role: 'system', content: 'You are a careful research agent. Use the tools, then answer.' },
    { role: 'user', content: prompt },
  ];
  push(20 + Math.floor(random() * 20), false);
  const promptLength = tokens.length;
  const nTurns = 1 + Math.floor(random() * 4);
  const turns: Turn[] = [];
  /** A process reward per call: 1, or 0 for a call that failed. */
  const steps: number[] = [];
  let generateTotal = 0;
  let toolTotal = 0;
  for (let index = 0; index < nTurns; index++) {
    const last = index === nTurns - 1;
    const start = tokens.length;
    push(Math.max(4, Math.round(o.tokensPerTurn * (0.5 + random()))), true);
    const sampled = { start, end: tokens.length };
    const generateMs = 50 + random() * 400;
    const tool = TOOLS[Math.floor(random() * TOOLS.length)]!;
    const text = last
      ? `The answer is ${sentence(random, 3)}.`
      : `I will use ${tool} to look up ${sentence(random, 3)}.`;
    const toolCalls = last
      ? []
      : [{ id: `${o.id}-c${index}`, name: tool, arguments: { query: sentence(random, 3), k: 3 } }];
    const isError = !last && random() < 0.15;
    const toolMs = last ? 0 : 5 + random() * 200;
    const toolResults = last
      ? []
      : [
          {
            callId: `${o.id}-c${index}`,
            name: tool,
            content: isError ? `Error: invalid argument 'k' for ${tool}` : `Result: ${sentence(random, 12)}`,
            isError,
            truncated: false,
            ms: toolMs,
          },
        ];
    for (const r of toolResults) steps.push(r.isError ? 0 : 1);
    messages.push({ role: 'assistant', content: text, ...(toolCalls.length ? { toolCalls } : {}) });
    for (const r of toolResults)
      messages.push({ role: 'tool', content: r.content, toolCallId: r.callId, name: r.name });
    const obsStart = tokens.length;
    if (!last) push(10 + Math.floor(random() * 30), false);
    turns.push({
      index,
      policyVersion: o.step,
      sampled,
      observation: { start: obsStart, end: tokens.length },
      text,
      finishReason: last ? 'stop' : 'tool_call',
      toolCalls,
      toolResults,
      parseErrors: [],
      generateMs,
      toolMs,
    });
    generateTotal += generateMs;
    toolTotal += toolMs;
  }
  const correct = random() < 0.3 + o.step * 0.05 ? 1 : 0;
  const format = random() < 0.9 ? 1 : 0;
  return {
    schemaVersion: 1,
    id: o.id,
    runId: o.runId,
    step: o.step,
    groupId: o.groupId,
    envId: o.envId,
    taskId: o.taskId,
    seed: o.seed,
    messages,
    tokens: Int32Array.from(tokens),
    lossMask: Uint8Array.from(lossMask),
    logprobs: Float64Array.from(logprobs),
    policyLogprobs: Float64Array.from(policyLogprobs),
    promptLength,
    turns,
    tokenization: 'exact',
    status: 'terminated',
    reward: {
      total: 0.9 * correct + 0.1 * format,
      components: { correct, format },
      weights: { correct: 0.9, format: 0.1 },
      info: {},
      steps,
    },
    timing: {
      startedAt: o.startedAt + random() * 1000,
      ms: generateTotal + toolTotal + 5,
      generateMs: generateTotal,
      toolMs: toolTotal,
    },
  };
}

/** A token's text piece as the generated runs' tokenizer would decode it. */
export function pieceOf(id: number): string {
  return `${WORDS[id % WORDS.length]}${id % 3 === 0 ? '\n' : ' '}`;
}

/**
 * The turn events a rollout engine emits while it plays `t`: each turn with the messages and tokens
 * added since the one before (the prompt with the first), tokens with their pieces.
 */
export function turnsOf(t: Trajectory): EpisodeTurn[] {
  let messagesSent = 0;
  let tokensSent = 0;
  return t.turns.map((turn, i) => {
    const last = i === t.turns.length - 1;
    const end = last ? t.tokens.length : turn.observation.end;
    // The messages up to this turn's tool results: the assistant message is the (i+1)-th.
    let assistants = 0;
    let upTo = t.messages.length;
    for (let m = 0; m < t.messages.length; m++) {
      if (t.messages[m]!.role !== 'assistant') continue;
      if (assistants++ === i + 1) {
        upTo = m;
        break;
      }
    }
    const ids = plainArray(t.tokens.subarray(tokensSent, end));
    const event: EpisodeTurn = {
      trajectoryId: t.id,
      ...(t.runId !== undefined ? { runId: t.runId } : {}),
      ...(t.step !== undefined ? { step: t.step } : {}),
      ...(t.groupId !== undefined ? { groupId: t.groupId } : {}),
      envId: t.envId,
      taskId: t.taskId,
      seed: t.seed,
      startedAt: t.timing.startedAt,
      turn,
      messages: t.messages.slice(messagesSent, upTo),
      tokens: {
        from: tokensSent,
        ids,
        lossMask: plainArray(t.lossMask.subarray(tokensSent, end)) as Array<0 | 1>,
        logprobs: plainArray(t.logprobs.subarray(tokensSent, end)),
        ...(t.policyLogprobs
          ? { policyLogprobs: plainArray(t.policyLogprobs.subarray(tokensSent, end)) }
          : {}),
        pieces: ids.map(pieceOf),
      },
    };
    messagesSent = upTo;
    tokensSent = end;
    return event;
  });
}
