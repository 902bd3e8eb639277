// Listener / Client / wait(): Unix and TCP sockets, Python's HMAC challenge both ways (and with
// python3's own multiprocessing.connection when it is installed), frames capped before
// authentication, EOF when the peer exits or is killed, sockets that refuse to travel, bad input.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import {
  AbortError,
  AuthenticationError,
  BufferTooShort,
  Client,
  Closed,
  EOFError,
  Listener,
  Pipe,
  SerializationError,
  TimeoutError,
  wait,
  type Address,
  type Connection,
} from 'multiproc';

import { fixture } from './helpers.js';

const clientFile = fixture('conn-client-child.js');
const listeners: Listener[] = [];
const connections: Connection[] = [];
const children: ChildProcess[] = [];

function listen(options: ConstructorParameters<typeof Listener>[0] = {}): Listener {
  const listener = new Listener(options);
  listeners.push(listener);
  return listener;
}

async function pair(listener: Listener, authkey?: string): Promise<[Connection, Connection]> {
  const [server, client] = await Promise.all([
    listener.accept({ timeout: 10_000 }),
    Client(listener.address, authkey === undefined ? {} : { authkey }),
  ]);
  connections.push(server, client);
  return [server, client];
}

function clientChild(address: Address, authkey: string, mode: string): { proc: ChildProcess; out: Promise<string> } {
  const proc = spawn(process.execPath, [clientFile, JSON.stringify(address), authkey, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(proc);
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return { proc, out: new Promise((resolve) => proc.once('close', () => resolve(out))) };
}

afterEach(async () => {
  for (const proc of children.splice(0)) {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.once('close', resolve));
    }
  }
  for (const connection of connections.splice(0)) connection.close();
  for (const listener of listeners.splice(0)) listener.close();
});

describe('Listener and Client', () => {
  it('a generated Unix socket lives in a private 0700 directory and goes on close', async () => {
    const listener = listen({ authkey: 'k' });
    const path = listener.address as string;
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    expect(statSync(path).isSocket()).toBe(true);
    const [server, client] = await pair(listener, 'k');
    await client.send({ hello: ['unix', 1n] });
    expect(await server.recv()).toEqual({ hello: ['unix', 1n] });
    listener.close();
    expect(existsSync(path)).toBe(false);
  });

  it('TCP with port 0: the bound port is readable at once; loopback by default', async () => {
    const listener = listen({ address: { port: 0 }, authkey: Buffer.from('key') });
    const address = listener.address as { host: string; port: number };
    expect(address.host).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);
    const [server, client] = await pair(listener, 'key');
    await server.sendBytes(Buffer.from('bytes'));
    expect(await client.recvBytes()).toEqual(Buffer.from('bytes'));
    expect(listener.lastAccepted).toMatchObject({ host: '127.0.0.1' });
  });

  it('maxMessageBytes bounds what a peer may send: a larger frame fails with EMSGSIZE from its header', async () => {
    const listener = listen({ authkey: 'k', maxMessageBytes: 1024 });
    const [server, client] = await pair(listener, 'k');
    await client.sendBytes(Buffer.alloc(1024, 1));
    expect((await server.recvBytes(null, { timeout: 5_000 })).length).toBe(1024);
    await client.sendBytes(Buffer.alloc(1025, 2));
    await expect(server.recvBytes(null, { timeout: 5_000 })).rejects.toMatchObject({ code: 'EMSGSIZE' });
    // Without a key, and on the client's side, too.
    const open = listen({ address: { port: 0 } });
    const [accepted, connected] = await Promise.all([
      open.accept({ timeout: 10_000 }),
      Client(open.address, { maxMessageBytes: 16 }),
    ]);
    connections.push(accepted, connected);
    await accepted.send('a message longer than sixteen bytes');
    await expect(connected.recv({ timeout: 5_000 })).rejects.toMatchObject({ code: 'EMSGSIZE' });
  });

  it('a wrong key fails with AuthenticationError on both sides', async () => {
    const listener = listen({ authkey: 'right' });
    const [accepted, connected] = await Promise.allSettled([
      listener.accept({ timeout: 10_000 }),
      Client(listener.address, { authkey: 'wrong' }),
    ]);
    expect(accepted).toMatchObject({ status: 'rejected', reason: expect.any(AuthenticationError) });
    expect(connected).toMatchObject({ status: 'rejected', reason: expect.any(AuthenticationError) });
    // A client without a key cannot pass either; the listener keeps serving good clients.
    const keyless = await Promise.allSettled([
      listener.accept({ timeout: 10_000 }),
      Client(listener.address).then((connection) => connection.close()),
    ]);
    expect(keyless[0]).toMatchObject({ status: 'rejected', reason: expect.any(AuthenticationError) });
    await pair(listener, 'right');
  });

  it('a wrong key fails in another process too', async () => {
    const listener = listen({ address: { port: 0 }, authkey: 'right' });
    const { out } = clientChild(listener.address, 'wrong', 'bad-key');
    await expect(listener.accept({ timeout: 10_000 })).rejects.toBeInstanceOf(AuthenticationError);
    expect(await out).toBe('AuthenticationError');
  });

  it('a peer that sends a big frame before authenticating is refused without buffering it', async () => {
    const listener = listen({ address: { port: 0 }, authkey: 'k' });
    const { port } = listener.address as { port: number };
    const raw = connect(port, '127.0.0.1');
    raw.on('error', () => {});
    raw.on('data', () => {
      const header = Buffer.alloc(4);
      header.writeInt32BE(100_000_000);
      raw.write(header);
    });
    await expect(listener.accept({ timeout: 10_000 })).rejects.toBeInstanceOf(AuthenticationError);
    raw.destroy();
  });

  it('talks to a child process, async and sync, then sees EOF when it exits', async () => {
    for (const mode of ['echo', 'echo-sync']) {
      const listener = listen({ address: { port: 0 }, authkey: 'k' });
      const { out } = clientChild(listener.address, 'k', mode);
      const connection = await listener.accept({ timeout: 10_000 });
      connections.push(connection);
      for (let i = 0; i < 20; i++) {
        const message = { i, data: new Uint8Array(i * 1000) };
        connection.sendSync(message);
        expect(connection.recvSync({ timeout: 10_000 })).toEqual(message);
      }
      const big = { blob: Buffer.alloc(6 * 1024 * 1024, 3) };
      await connection.send(big);
      const back = (await connection.recv({ timeout: 20_000 })) as typeof big;
      expect(back.blob.equals(big.blob)).toBe(true);
      await connection.send(null);
      await out;
      await expect(connection.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    }
  });

  it('recv rejects with EOFError when the peer process is SIGKILLed', async () => {
    const listener = listen({ authkey: 'k' });
    const { proc } = clientChild(listener.address, 'k', 'hold');
    const connection = await listener.accept({ timeout: 10_000 });
    connections.push(connection);
    expect(await connection.recv({ timeout: 10_000 })).toBe('hello');
    const pending = connection.recv({ timeout: 10_000 });
    proc.kill('SIGKILL');
    await expect(pending).rejects.toBeInstanceOf(EOFError);
  });

  it('BufferTooShort keeps the message', async () => {
    const [server, client] = await pair(listen({ authkey: 'k' }), 'k');
    await client.sendBytes(Buffer.alloc(500, 9));
    await expect(server.recvBytes(499)).rejects.toBeInstanceOf(BufferTooShort);
    const into = Buffer.alloc(600);
    await expect(server.recvBytesInto(into, 101)).rejects.toBeInstanceOf(BufferTooShort);
    expect(await server.recvBytesInto(into, 100)).toBe(500);
    expect(into[100]).toBe(9);
  });

  it('socket connections do not travel: sending one fails with SerializationError', async () => {
    const [server, client] = await pair(listen());
    expect((server as unknown as { toHandle?: unknown }).toHandle).toBeUndefined();
    await expect(client.send({ conn: server })).rejects.toBeInstanceOf(SerializationError);
    const [a, b] = Pipe();
    await expect(a.send([client])).rejects.toBeInstanceOf(SerializationError);
    a.close();
    b.close();
  });

  it('accept honours timeout, signal and close', async () => {
    const listener = listen();
    await expect(listener.accept({ timeout: 10 })).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const aborted = listener.accept({ signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    const pending = listener.accept();
    listener.close();
    await expect(pending).rejects.toBeInstanceOf(Closed);
    await expect(listener.accept()).rejects.toBeInstanceOf(Closed);
  });

  it('interoperates with python3 multiprocessing.connection, both ways', async (context) => {
    const listener = listen({ address: { port: 0 }, authkey: 'secret' });
    const { port } = listener.address as { port: number };
    // Python's Client talks to our Listener, then Python's Listener takes our Client.
    const script = `
from multiprocessing.connection import Client, Listener
c = Client(('127.0.0.1', ${port}), authkey=b'secret')
c.send_bytes(b'from python')
reply = c.recv_bytes()
with Listener(('127.0.0.1', 0), authkey=b'secret') as lst:
    print(lst.address[1], flush=True)
    with lst.accept() as d:
        d.send_bytes(reply + b' / ' + d.recv_bytes())
`;
    const python = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(python);
    const missing = await new Promise<boolean>((resolve) => {
      python.once('error', () => resolve(true));
      python.once('spawn', () => resolve(false));
    });
    if (missing) {
      console.log('skipped: python3 is not installed');
      context.skip();
      return;
    }
    let stderr = '';
    python.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const pythonPort = new Promise<number>((resolve) =>
      python.stdout!.setEncoding('utf8').once('data', (line: string) => resolve(Number(line.trim()))),
    );
    const exited = new Promise<number | null>((resolve) => python.once('close', resolve));
    const server = await listener.accept({ timeout: 20_000 });
    connections.push(server);
    expect((await server.recvBytes()).toString()).toBe('from python');
    await server.sendBytes(Buffer.from('from node'));
    const client = await Client({ port: await pythonPort }, { authkey: 'secret' });
    connections.push(client);
    await client.sendBytes(Buffer.from('node client'));
    expect((await client.recvBytes()).toString()).toBe('from node / node client');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});

describe('wait()', () => {
  it('resolves with the connections that are ready, pipes and sockets together', async () => {
    const [server, client] = await pair(listen({ authkey: 'k' }), 'k');
    const [a, b] = Pipe();
    connections.push(a, b);
    expect(await wait([server, b], { timeout: 0 })).toEqual([]);
    expect(await wait([server, b], { timeout: 20 })).toEqual([]);
    const waiting = wait([server, b], { timeout: 10_000 });
    await client.send('x');
    expect(await waiting).toEqual([server]);
    await a.send('y');
    expect(await wait([server, b])).toEqual([server, b]);
    expect(await b.recv()).toBe('y');
    const pipeOnly = wait([server, b], { timeout: 10_000 });
    expect(await pipeOnly).toEqual([server]);
    expect(await server.recv()).toBe('x');
    const later = wait([server, b]);
    await a.send('z');
    expect(await later).toEqual([b]);
    // A closed peer counts as ready: recv would reject with EOFError at once.
    client.close();
    expect(await wait([server], { timeout: 10_000 })).toEqual([server]);
    await expect(server.recv()).rejects.toBeInstanceOf(EOFError);
  });

  it('rejects bad input and honours signal', async () => {
    const [a, b] = Pipe();
    connections.push(a, b);
    await expect(wait(5 as unknown as Connection[])).rejects.toBeInstanceOf(TypeError);
    await expect(wait([{}] as Connection[])).rejects.toBeInstanceOf(TypeError);
    await expect(wait([b], { timeout: 'x' as unknown as number })).rejects.toBeInstanceOf(TypeError);
    const controller = new AbortController();
    const pending = wait([b], { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    a.close();
    await expect(wait([a])).rejects.toBeInstanceOf(Closed);
  });
});

describe('Listener and Client arguments', () => {
  // Listener's bad options are rows of test/bad-input.test.ts.
  it('binding a taken address throws EADDRINUSE at once', () => {
    const first = listen({ address: { port: 0 } });
    expect(() => new Listener({ address: first.address })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    const unix = listen();
    expect(() => new Listener({ address: unix.address })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
  });

  it('Client rejects (never throws) on bad input and on nobody listening', async () => {
    let promise: Promise<unknown> | undefined;
    expect(() => (promise = Client(42 as unknown as string))).not.toThrow();
    await expect(promise).rejects.toBeInstanceOf(TypeError);
    await expect(Client('/tmp/multiproc-no-such.sock')).rejects.toMatchObject({ code: 'ENOENT' });
    const closed = listen({ address: { port: 0 } });
    const address = closed.address;
    closed.close();
    await expect(Client(address)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(Client(address, { authkey: 7 as unknown as string })).rejects.toBeInstanceOf(TypeError);
  });
});
