// Python's Pipe between two processes: a worker squares what it receives until it gets None.
//
//   Python                                   multiproc
//   a, b = Pipe()                            const [a, b] = Pipe()
//   p = Process(target=f, args=(b,))         new Process({ target: { module, name: 'f' }, args: [b] })
//   a.send(x); a.recv()                      await a.send(x); await a.recv()
//   b.close()  # in the parent               b.close()
//   a.recv() -> EOFError when b is gone      await a.recv() rejects with EOFError
//
// Run: node examples/pipe.js
import { currentProcess, EOFError, Pipe, Process } from 'multiproc';

/**
 * Runs in the child: answers each number with its square, stops at null.
 * @param {import('multiproc').Connection} conn
 */
export async function squarer(conn) {
  for (let n = await conn.recv(); typeof n === 'number'; n = await conn.recv()) await conn.send(n * n);
  conn.close();
}

if (currentProcess().name === 'MainProcess') {
  const [parentEnd, childEnd] = Pipe();
  const child = new Process({ target: { module: import.meta.url, name: 'squarer' }, args: [childEnd] });
  child.start();
  childEnd.close(); // the child holds its own copy now

  const squares = [];
  for (const n of [1, 2, 3, 4]) {
    await parentEnd.send(n);
    squares.push(await parentEnd.recv());
  }
  await parentEnd.send(null);
  console.log(`squares ${squares.join(' ')}`);

  await child.join();
  try {
    await parentEnd.recv();
  } catch (error) {
    console.log(`after the child exited: ${error instanceof EOFError ? 'EOFError' : error}`);
  }
  parentEnd.close();
}
