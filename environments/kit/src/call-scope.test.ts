/**
 * A tool call stopped at its deadline is not awaited, and its promise may still run: whatever it
 * does afterwards must not reach the episode (the agent was told the call was stopped), neither an
 * answer nor a write to the state, whether it reaches the state through the episode or through the
 * state it read before its await.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StoppedCallError } from './call-scope.ts';
import { defineEnvironment } from './define-environment.ts';
import { Environment } from './episode.ts';
import { weightedReward } from './reward.ts';

interface State {
  recorded: string[];
  answer?: string;
}

/** The moment each late call goes on, released by the test once the call has been stopped. */
const gates = new Map<string, () => void>();
const late = new Map<string, Promise<unknown>>();
const gate = (key: string) => new Promise<void>((resolve) => gates.set(key, resolve));

const TOOL_TIMEOUT_MS = 50;

const slow = defineEnvironment<State, object>({
  id: 'late-writer',
  version: 1,
  description: 'Tools that finish after their deadline and then change the episode.',
  config: z.object({}),
  tasks: () => [{ id: 't', prompt: 'Answer.', split: 'train', meta: {} }],
  tools: {
    slow_answer: {
      description: 'Records an answer after a wait, through the episode.',
      input: z.object({ text: z.string(), key: z.string() }),
      run: async ({ text, key }, { episode }) => {
        const done = (async () => {
          await gate(key);
          episode.state.answer = text;
          episode.terminate(text);
        })();
        late.set(key, done);
        await done;
        return 'answered';
      },
    },
    slow_note: {
      description: 'Appends a note after a wait, through the state it read first.',
      input: z.object({ text: z.string(), key: z.string() }),
      run: async ({ text, key }, { episode }) => {
        const state = episode.state;
        const done = (async () => {
          await gate(key);
          state.recorded = [...state.recorded, text];
        })();
        late.set(key, done);
        await done;
        return 'noted';
      },
    },
    answer: {
      description: 'Answers at once.',
      input: z.object({ text: z.string() }),
      run: ({ text }, { episode }) => {
        episode.state.answer = text;
        episode.terminate(text);
        return 'answered';
      },
    },
  },
  setup: () => ({ recorded: [] }),
  grade: ({ episode }) =>
    weightedReward({ correct: episode.state.answer === 'right' ? 1 : 0 }, { correct: 1 }, { answer: episode.state.answer ?? null, recorded: episode.state.recorded }),
  rewardRange: [0, 1],
  limits: { toolTimeoutMs: TOOL_TIMEOUT_MS },
});

const environment = new Environment(slow, {});

describe('a tool call stopped at its deadline', () => {
  it('cannot answer later: the episode goes on, and the answer given after it is the one graded', async () => {
    const episode = await environment.openEpisode({ taskId: 't' });
    const stopped = await episode.callTool('slow_answer', { text: 'late', key: 'answer' });
    expect(stopped).toMatchObject({ isError: true, errorCode: 'tool_timeout', terminated: false });
    gates.get('answer')!();
    await expect(late.get('answer')).rejects.toBeInstanceOf(StoppedCallError);
    expect(episode.terminated).toBe(false);
    expect(episode.state.answer).toBeUndefined();
    expect(await episode.callTool('answer', { text: 'right' })).toMatchObject({ isError: false, terminated: true });
    const { reward } = await episode.end();
    expect(reward.info).toMatchObject({ answer: 'right' });
    expect(episode.answer).toBe('right');
  });

  it('cannot write through the state it read before its await', async () => {
    const episode = await environment.openEpisode({ taskId: 't' });
    expect(await episode.callTool('slow_note', { text: 'late', key: 'note' })).toMatchObject({ errorCode: 'tool_timeout' });
    gates.get('note')!();
    await expect(late.get('note')).rejects.toBeInstanceOf(StoppedCallError);
    expect(episode.state.recorded).toEqual([]);
    await episode.close();
  });

  it('changes the episode as usual when it finishes in time', async () => {
    const episode = await environment.openEpisode({ taskId: 't' });
    const call = episode.callTool('slow_note', { text: 'kept', key: 'in-time' });
    gates.get('in-time')!();
    expect(await call).toMatchObject({ isError: false, content: 'noted' });
    expect(episode.state.recorded).toEqual(['kept']);
    await episode.close();
  });
});
