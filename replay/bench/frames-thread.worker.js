// A thread for `pnpm bench feed-stages`: given groups, it builds their feed events (numbered in
// order) and encodes their frames, each behind its websocket header, into one buffer that it hands
// back (transferred, not copied). It measures a design the feed does not use: the delivering
// thread only copying each group out and writing the bytes it gets back.
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { eventJson, groupEvents } = await import('../src/feed-events.ts');
const none = new Set();
const cpuMs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
let seq = 0;
parentPort.on('message', (message) => {
  if (message === 'cpu') {
    parentPort.postMessage({ cpuMs: cpuMs() });
    return;
  }
  const frames = [];
  let bytes = 0;
  for (const group of message) {
    for (const event of groupEvents(group, 'bench', () => none).events) {
      const frame = Buffer.from(eventJson({ ...event, runId: 'bench', seq: ++seq }));
      frames.push(frame);
      bytes += (frame.length < 126 ? 2 : frame.length < 0x10000 ? 4 : 10) + frame.length;
    }
  }
  const out = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  for (const frame of frames) {
    out[at] = 0x81;
    if (frame.length < 126) {
      out[at + 1] = frame.length;
      at += 2;
    } else if (frame.length < 0x10000) {
      out[at + 1] = 126;
      out.writeUInt16BE(frame.length, at + 2);
      at += 4;
    } else {
      out[at + 1] = 127;
      out.writeBigUInt64BE(BigInt(frame.length), at + 2);
      at += 10;
    }
    at += frame.copy(out, at);
  }
  parentPort.postMessage(out.buffer, [out.buffer]);
});
