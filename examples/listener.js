// Python's Listener and Client: two processes that did not make each other talk over a socket,
// after proving to each other that they hold the same authkey (Python's HMAC challenge, so a
// Python program with multiprocessing.connection.Client could be the client just as well).
//
//   Python                                           multiproc
//   l = Listener(('127.0.0.1', 0), authkey=b'pw')    new Listener({ address: { port: 0 }, authkey: 'pw' })
//   c = l.accept()                                   await l.accept()
//   c = Client(address, authkey=b'pw')               await Client(address, { authkey: 'pw' })
//
// Run: node examples/listener.js
import { Client, currentProcess, Listener, Process } from 'multiproc';

/**
 * Runs in the child: connects, asks a question, prints the answer.
 * @param {import('multiproc').Address} address
 */
export async function client(address) {
  const conn = await Client(address, { authkey: 'pw' });
  await conn.send({ question: 'what is 6 * 7?' });
  console.log(`client got ${JSON.stringify(await conn.recv())}`);
  conn.close();
}

if (currentProcess().name === 'MainProcess') {
  const listener = new Listener({ address: { port: 0 }, authkey: 'pw' });
  const child = new Process({ target: { module: import.meta.url, name: 'client' }, args: [listener.address] });
  child.start();

  const conn = await listener.accept();
  const { question } = /** @type {{ question: string }} */ (await conn.recv());
  console.log(`server got ${JSON.stringify(question)}`);
  await conn.send({ answer: 42 });

  await child.join();
  conn.close();
  listener.close();
}
