import type { FeedFilter, FeedServerMessage } from '@toolgym/protocol';
import { feedUrl } from './api.ts';

/**
 * Follows one run live over the feed and resumes after a dropped connection from the last
 * cursor and seq it saw (replay/PROTOCOL.md). Turns are passed on as they happen; a trajectory sent
 * before its commit is held until `committed` (the list offers only what the store can open) and
 * dropped on `write-failed`. Returns a function that stops following.
 */
export function followRun(
  runId: string,
  after: number,
  filter: FeedFilter,
  onMessage: (message: FeedServerMessage) => void,
  onStatus: (status: 'connecting' | 'live' | 'reconnecting') => void,
): () => void {
  let cursor = after;
  /** Per run, the last seq seen: events sent before their commit are not sent again on resume. */
  const seqs: Record<string, number> = {};
  /** Trajectory events sent before their commit, by seq. */
  const held = new Map<number, FeedServerMessage>();
  let stopped = false;
  let ws: WebSocket | undefined;
  const connect = () => {
    onStatus(cursor === after ? 'connecting' : 'reconnecting');
    ws = new WebSocket(feedUrl());
    ws.onopen = () =>
      ws?.send(JSON.stringify({ type: 'subscribe', runId, after: cursor, seqs, mode: 'live', filter }));
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as FeedServerMessage;
      if ('cursor' in message && message.cursor !== undefined && message.type !== 'end')
        cursor = Math.max(cursor, message.cursor);
      if ('seq' in message && message.seq !== undefined) seqs[message.runId] = message.seq;
      if (message.type === 'overflow') cursor = message.resumeAfter;
      if (message.type === 'caught-up') onStatus('live');
      if (message.type === 'trajectory' && message.pending) {
        held.set(message.seq!, message);
        return;
      }
      if (message.type === 'committed')
        for (const [seq, trajectory] of held)
          if (seq <= (message.seqs[runId] ?? 0)) {
            held.delete(seq);
            onMessage(trajectory);
          }
      if (message.type === 'write-failed') for (const seq of message.seqs) held.delete(seq);
      onMessage(message);
    };
    ws.onclose = () => {
      if (!stopped) setTimeout(connect, 500);
    };
  };
  connect();
  return () => {
    stopped = true;
    ws?.close();
  };
}
