/** Plays one seat of a games episode over any client: each turn the first (or a chosen) legal move the text offers. */
import type { EndResult } from '@toolgym/protocol';
import type { EnvironmentClient } from '@toolgym/env-kit';

/** The legal moves a prompt or move result ends with (`Your turn: check or bet.`, `your turn: 1, 2, 3.`). */
export function offeredMoves(text: string): string[] {
  const match = /[Yy]our turn: ([^.]*)\.$/.exec(text.trim());
  return match ? match[1]!.split(/, | or /) : [];
}

export async function playSeat(
  client: EnvironmentClient,
  start: { taskId: string; seed?: number; match?: string },
  choose: (moves: string[]) => string = (moves) => moves[0]!,
): Promise<{ prompt: string; texts: string[]; end: EndResult }> {
  const started = await client.start(start);
  const texts: string[] = [];
  let text = started.task.prompt;
  for (let turn = 0; turn < 10; turn++) {
    const moves = offeredMoves(text);
    if (moves.length === 0) break;
    const result = await client.callTool('move', { action: choose(moves) });
    texts.push(result.content);
    text = result.content;
    if (result.terminated) break;
  }
  return { prompt: started.task.prompt, texts, end: await client.end() };
}
