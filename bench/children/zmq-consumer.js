// @ts-check
// The far side of the zeromq peer: pulls from argv[2] (an ipc:// endpoint) and answers on its IPC
// channel {done: checksum} after the warm-up messages (argv[4]) and again after the measured ones
// (argv[5]). Objects travel as JSON text, raw messages as 64-byte frames (argv[3]: objects | bytes).
import * as zmq from 'zeromq';

const [endpoint, mode, warm, n] = process.argv.slice(2);
const pull = new zmq.Pull();
pull.connect(endpoint);
process.on('message', (/** @type {any} */ m) => {
  if (m?.cmd === 'stop') {
    pull.close();
    process.disconnect();
  }
});
process.send?.({ ready: true });

/** @param {number} count */
async function take(count) {
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const [msg] = await pull.receive();
    sum += mode === 'bytes' ? msg.readUInt32LE(0) : JSON.parse(msg.toString()).i;
  }
  process.send?.({ done: sum });
}

await take(Number(warm));
await take(Number(n));
