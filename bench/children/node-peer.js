// @ts-check
// The far side of the plain-Node peers: a child_process child (forked with an IPC channel, json or
// advanced serialization) or a worker thread. Modes (argv[2] or workerData):
//   consume: after {cmd:'expect', count}, counts data messages ({ i } or 64 bytes) and answers
//            {done: checksum} when `count` have arrived;
//   echo:    sends every data message straight back (ping-pong).
// {cmd:'stop'} ends it.
import { parentPort, workerData } from 'node:worker_threads';

const mode = parentPort ? workerData : process.argv[2];
/** @param {unknown} m */
const send = (m) => (parentPort ? parentPort.postMessage(m) : process.send?.(m));
let expect = 0;
let got = 0;
let sum = 0;

/** @param {any} m */
function onMessage(m) {
  if (m && typeof m === 'object' && typeof m.cmd === 'string') {
    if (m.cmd === 'expect') {
      expect = m.count;
      got = 0;
      sum = 0;
    } else if (m.cmd === 'stop') {
      if (parentPort) parentPort.close();
      else process.disconnect();
    }
    return;
  }
  if (mode === 'echo') {
    send(m);
    return;
  }
  sum += m instanceof Uint8Array ? m[0] | (m[1] << 8) | (m[2] << 16) | (m[3] * 0x1000000) : m.i;
  if (++got === expect) send({ done: sum });
}

if (parentPort) parentPort.on('message', onMessage);
else process.on('message', onMessage);
send({ ready: true });
