import { HttpError } from '@toolgym/http';

/**
 * A server-sent event stream as OpenAI writes it: `data: <json>` per event, `data: [DONE]` last. An
 * error after the stream began is sent as a final error event. Events after the client left are dropped.
 */
export function eventStream(run: (send: (data: unknown) => void) => Promise<void>): Response {
  const encoder = new TextEncoder();
  let open = true;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const write = (text: string) => {
        if (open) controller.enqueue(encoder.encode(text));
      };
      const send = (data: unknown) => write(`data: ${JSON.stringify(data)}\n\n`);
      try {
        await run(send);
      } catch (error) {
        send(HttpError.from(error).body());
      }
      write('data: [DONE]\n\n');
      if (open) controller.close();
    },
    cancel() {
      open = false;
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' },
  });
}
