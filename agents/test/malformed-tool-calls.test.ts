/**
 * Malformed tool calls through the whole loop: each becomes an observation that says what was
 * wrong, the episode goes on to its answer, and the errors are counted per turn, in the eval
 * summary, and (when a trainer asks) as a reward penalty.
 */
import { TRAJECTORY_SCHEMA_VERSION } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { formatEvalSummary, summarizeEval } from '../src/eval-summary.ts';
import { parseErrorCount, withParseErrorPenalty } from '../src/parse-errors.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { composeEnvironment, inProcessClient, scriptedTokenPolicyTestDouble } from './helpers.test-double.ts';

const tokenizer = new ByteTokenizerTestDouble();
const env = composeEnvironment();

describe('malformed tool calls in an episode', () => {
  it('are shown to the model, counted, and the episode reaches its answer', async () => {
    const task = (await env.tasksOf('test'))[0]!;
    const answer = (task.answer as { output: string }).output;
    const turns = [
      '<tool_call>\n{"name": "upper", "arguments": {"text": "ab\n</tool_call>', // truncated JSON
      '<think>I could <tool_call>{"name": "upper", "arguments": {"text": "a"}}</tool_call></think>Hmm.', // in reasoning
      '<tool_call>{"tool": "upper", "args": {"text": "a"}}</tool_call>', // wrong keys
      '<tool_call>{"name": "upper", "arguments": {"text": "say "hi""}}</tool_call>', // nested quotes
      `${hermesToolCalls.render([
        { name: 'upper', arguments: { text: 'a' } },
        { name: 'reverse', arguments: { text: 'ab' } },
      ])}\n<tool_call>{"name": "upper"`, // two calls, then one cut off
      hermesToolCalls.render([{ name: 'answer', arguments: { answer } }]),
    ];
    const policy = scriptedTokenPolicyTestDouble(tokenizer, (turn) => turns[turn]!);
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy,
      start: { taskId: task.id },
      sampling: { maxTokens: 256 },
      maxTurns: 8,
    });
    await client.close();

    expect(t.failure).toBeUndefined();
    expect(t.status).toBe('terminated');
    expect(t.reward.components.correct).toBe(1);
    expect(t.turns.map((x) => x.parseErrors.map((e) => e.code))).toEqual([
      ['invalid_json'],
      ['call_in_reasoning'],
      ['missing_name'],
      ['invalid_json'],
      ['unclosed_tool_call'],
      [],
    ]);
    expect(t.turns[4]!.toolResults.map((r) => [r.name, r.isError])).toEqual([
      ['upper', false],
      ['reverse', false],
    ]);
    expect(verifyTrajectoryTokens(t, tokenizer, ChatTemplate.hermes(), env.toolSpecs)).toEqual({ ok: true });
    // Each error is in the prompt of the turn after it, saying what to fix.
    const prompts = policy.requests.map((r) => tokenizer.decode((r as { tokens: readonly number[] }).tokens));
    expect(prompts[1]).toContain('Error (invalid_json): the tool call is not valid JSON');
    expect(prompts[2]).toContain('Error (call_in_reasoning)');
    expect(prompts[3]).toContain('its keys: tool, args');
    expect(prompts[5]).toContain('Error (unclosed_tool_call)');

    expect(parseErrorCount(t)).toBe(5);
    const group = {
      schemaVersion: TRAJECTORY_SCHEMA_VERSION,
      id: 'g',
      envId: t.envId,
      taskId: t.taskId,
      trajectories: [t],
    };
    const summary = summarizeEval([group]);
    expect(summary.parseErrors).toBe(5);
    expect(formatEvalSummary(summary)).toContain('parse errors 5');

    const penalised = withParseErrorPenalty(t.reward, parseErrorCount(t), 0.1);
    expect(penalised.total).toBeCloseTo(t.reward.total - 0.5, 12);
    expect(penalised.components.parse_errors).toBe(5);
    expect(penalised.weights.parse_errors).toBe(-0.1);
    expect(withParseErrorPenalty(t.reward, 5, 0)).toBe(t.reward);
  });
});
