import type { FeedFilter, FeedServerMessage } from '@toolgym/protocol';
import { feedUrl } from './api.ts';

/**
 * Follows one run live over the feed and resumes after a dropped connection from the last
 * cursor it saw (replay/PROTOCOL.md). Returns a function that stops following.
 */
export function followRun(
  runId: string,
  after: number,
  filter: FeedFilter,
  onMessage: (message: FeedServerMessage) => void,
  onStatus: (status: 'connecting' | 'live' | 'reconnecting') => void,
): () => void {
  let cursor = after;
  let stopped = false;
  let ws: WebSocket | undefined;
  const connect = () => {
    onStatus(cursor === after ? 'connecting' : 'reconnecting');
    ws = new WebSocket(feedUrl());
    ws.onopen = () =>
      ws?.send(JSON.stringify({ type: 'subscribe', runId, after: cursor, mode: 'live', filter }));
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as FeedServerMessage;
      if ('cursor' in message && message.type !== 'end') cursor = Math.max(cursor, message.cursor);
      if (message.type === 'overflow') cursor = message.resumeAfter;
      if (message.type === 'caught-up') onStatus('live');
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
