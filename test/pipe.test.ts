// Pipe across real processes: boundaries and order, messages larger than the ring,
// BufferTooShort that loses nothing, EOF after a close and after SIGKILL, EPIPE, handles that
// travel (argv JSON, inside messages, Process arguments), several writers on one end, corrupt
// shared memory, bad arguments, and nothing left in /dev/shm.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { Segment } from '../dist/segment.js';
import { PIPE_KIND } from '../dist/connection/pipe-ring.js';
import {
  AbortError,
  BufferTooShort,
  Closed,
  CorruptionError,
  EOFError,
  Pipe,
  Process,
  ProcessError,
  TimeoutError,
  fromHandle,
  type Connection,
  type HandleDescriptor,
} from 'multiproc';

import { fixture } from './helpers.js';

const childFile = fixture('conn-pipe-child.js');
const children: ChildProcess[] = [];
const opened: Connection[] = [];
const names: string[] = [];

interface Child {
  process: ChildProcess;
  ready: Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts the fixture with `end`'s handle; the parent's copy stays open unless closed. */
function child(mode: string, end: Connection, ...args: string[]): Child {
  const handle = (end as unknown as { toHandle(): HandleDescriptor }).toHandle();
  const proc = spawn(process.execPath, [childFile, mode, JSON.stringify(handle), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ready = new Promise<void>((resolve) => proc.stdout!.once('data', () => resolve()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { process: proc, ready, exit };
}

function pipe(options?: Parameters<typeof Pipe>[0]): [Connection, Connection] {
  const ends = Pipe(options);
  opened.push(...ends);
  const handle = (ends[0] as unknown as { toHandle(): HandleDescriptor }).toHandle();
  names.push(handle.segment as string, ...(handle.ends as string[]));
  // Revive the export at once: the test's own toHandle() must not keep the end alive.
  (fromHandle(handle) as unknown as Connection).close();
  return ends;
}

function nth(i: number): Buffer | { i: number; text: string } {
  return i % 3 === 0 ? Buffer.alloc(i * 7, i & 255) : { i, text: 'x'.repeat(i * 5) };
}

function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31) & 255;
  return bytes;
}

afterEach(async () => {
  for (const proc of children.splice(0)) {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.once('close', resolve));
    }
  }
  for (const end of opened.splice(0)) end.close();
  // Keepers of exported ends let go within ~100 ms once every export was revived.
  await new Promise((resolve) => setTimeout(resolve, 250));
  const left = names.splice(0).filter((name) => existsSync(`/dev/shm${name}`));
  expect(left).toEqual([]);
});

describe('Pipe across processes', () => {
  it('keeps message boundaries and order, objects and bytes mixed', async () => {
    const [reader, writer] = pipe({ duplex: false });
    const sender = child('send', writer, '300');
    writer.close();
    for (let i = 0; i < 300; i++) expect(await reader.recv({ timeout: 10_000 })).toEqual(nth(i));
    await expect(reader.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    expect((await sender.exit).code).toBe(0);
  });

  it('carries both directions of a duplex pipe, async and sync forms', async () => {
    for (const mode of ['echo', 'echo-sync']) {
      const [mine, theirs] = pipe();
      const echo = child(mode, theirs);
      theirs.close();
      for (let i = 0; i < 50; i++) {
        await mine.send({ i, nested: [i, `${i}`] });
        expect(await mine.recv({ timeout: 10_000 })).toEqual({ i, nested: [i, `${i}`] });
        mine.sendBytesSync(Buffer.from(`bytes ${i}`));
        expect(mine.recvSync({ timeout: 10_000 })).toEqual(Buffer.from(`bytes ${i}`));
      }
      await mine.send(null);
      expect((await echo.exit).code).toBe(0);
    }
  });

  it('moves messages many times larger than the ring, both ways', async () => {
    const [mine, theirs] = pipe({ capacityBytes: 4096 });
    const echo = child('echo', theirs);
    theirs.close();
    const big = pattern(3 * 1024 * 1024 + 5);
    const sent = mine.sendBytes(big);
    expect((await mine.recvBytes(null, { timeout: 20_000 })).equals(big)).toBe(true);
    await sent;
    const floats = new Float64Array(200_000).map((_, i) => i / 7);
    const sending = mine.send({ floats });
    expect(await mine.recv({ timeout: 20_000 })).toEqual({ floats });
    await sending;
    await mine.send(null);
    expect((await echo.exit).code).toBe(0);
  });

  it('reads big messages sent from another process, then EOF', async () => {
    const [reader, writer] = pipe({ duplex: false });
    const sender = child('big', writer, String(8 * 1024 * 1024));
    writer.close();
    expect((await reader.recvBytes(null, { timeout: 20_000 })).equals(pattern(8 * 1024 * 1024))).toBe(true);
    const { floats } = (await reader.recv({ timeout: 20_000 })) as { floats: Float64Array };
    expect(floats.length).toBe(1024 * 1024);
    expect(floats[3]).toBe(1);
    await expect(reader.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    expect((await sender.exit).code).toBe(0);
  });

  it('BufferTooShort loses nothing: the message stays for the next recv', async () => {
    const [a, b] = pipe({ capacityBytes: 4096 });
    await a.sendBytes(Buffer.alloc(1000, 1));
    await expect(b.recvBytes(999)).rejects.toBeInstanceOf(BufferTooShort);
    await expect(b.recvBytesInto(Buffer.alloc(1000), 1)).rejects.toBeInstanceOf(BufferTooShort);
    expect(() => b.recvBytesSync(10)).toThrow(BufferTooShort);
    const target = new Uint8Array(1010);
    expect(await b.recvBytesInto(target, 10)).toBe(1000);
    expect(target[9]).toBe(0);
    expect(target[10]).toBe(1);
    // A message longer than the ring: refused on its first fragment, then read whole.
    const big = pattern(50_000);
    const sending = a.sendBytes(big);
    await expect(b.recvBytes(49_999)).rejects.toBeInstanceOf(BufferTooShort);
    expect((await b.recvBytes(50_000)).equals(big)).toBe(true);
    await sending;
  });

  it('recv rejects with EOFError once the writer closed and the pipe is drained', async () => {
    const [reader, writer] = pipe({ duplex: false });
    await writer.send(1);
    writer.close();
    expect(await reader.recv()).toBe(1);
    await expect(reader.recv()).rejects.toBeInstanceOf(EOFError);
    expect(() => reader.recvSync()).toThrow(EOFError);
    expect(await reader.poll()).toBe(true);
  });

  it('recv rejects with EOFError when the peer is SIGKILLed, after what it sent', async () => {
    const [reader, writer] = pipe({ duplex: false });
    const holder = child('send-hold', writer);
    writer.close();
    await holder.ready;
    holder.process.kill('SIGKILL');
    await holder.exit;
    expect(await reader.recv({ timeout: 10_000 })).toBe('last words');
    await expect(reader.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
  });

  it('a recv already waiting wakes with EOFError when the peer is killed (async and sync)', async () => {
    for (const sync of [false, true]) {
      const [mine, theirs] = pipe();
      const holder = child('hold', theirs);
      theirs.close();
      await holder.ready;
      if (sync) {
        holder.process.kill('SIGKILL');
        await holder.exit;
        expect(() => mine.recvSync({ timeout: 10_000 })).toThrow(EOFError);
      } else {
        const pending = mine.recv({ timeout: 10_000 });
        setTimeout(() => holder.process.kill('SIGKILL'), 100);
        await expect(pending).rejects.toBeInstanceOf(EOFError);
      }
    }
  });

  it('send fails with EPIPE once the reader is gone, even killed', async () => {
    const [reader, writer] = pipe({ duplex: false, capacityBytes: 4096 });
    const holder = child('hold', reader);
    reader.close();
    await holder.ready;
    holder.process.kill('SIGKILL');
    await holder.exit;
    // The ring fills, then the writer probes the reader and finds it gone.
    const sendMany = async (): Promise<void> => {
      for (;;) await writer.sendBytes(Buffer.alloc(1000), undefined, undefined, { timeout: 10_000 });
    };
    await expect(sendMany()).rejects.toMatchObject({ code: 'EPIPE' });
    expect(() => writer.sendSync('x')).toThrow(expect.objectContaining({ code: 'EPIPE' }));
  });

  it('several processes writing one end: every message arrives once, in order per writer', async () => {
    const [reader, writer] = pipe({ duplex: false, capacityBytes: 4096 });
    const writers = [0, 1, 2].map((k) => child('writer', writer, String(k), '200'));
    writer.close();
    const seen = [0, 0, 0];
    for (let n = 0; n < 600; n++) {
      const { writer: k, i } = (await reader.recv({ timeout: 10_000 })) as { writer: number; i: number };
      expect(i).toBe(seen[k]);
      seen[k]!++;
    }
    await expect(reader.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    for (const w of writers) expect((await w.exit).code).toBe(0);
  });

  it('a Pipe end travels inside a message', async () => {
    const [mine, theirs] = pipe();
    const [reader, writer] = pipe({ duplex: false });
    const forwarder = child('forward', theirs);
    theirs.close();
    await mine.send({ end: writer });
    writer.close();
    expect(await reader.recv({ timeout: 10_000 })).toBe('forwarded');
    await expect(reader.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    expect((await forwarder.exit).code).toBe(0);
  });

  it('Pipe ends travel as Process arguments', async () => {
    const [mine, theirs] = pipe();
    const proc = new Process({ target: { module: fixture('conn-targets.js'), name: 'echo' }, args: [theirs] });
    proc.start();
    theirs.close();
    await mine.send({ hello: 'process' });
    expect(await mine.recv({ timeout: 10_000 })).toEqual({ hello: 'process' });
    await mine.send(null);
    await proc.join({ timeout: 10_000 });
    expect(proc.exitCode).toBe(0);
    await expect(mine.recv({ timeout: 10_000 })).rejects.toBeInstanceOf(EOFError);
    proc.close();
  });
});

describe('Pipe in one process', () => {
  it('poll and pollSync report readiness; wait() too', async () => {
    const [a, b] = pipe();
    expect(await b.poll()).toBe(false);
    expect(b.pollSync({ timeout: 10 })).toBe(false);
    const polling = b.poll({ timeout: 5_000 });
    await a.send('x');
    expect(await polling).toBe(true);
    expect(b.pollSync()).toBe(true);
    expect(b.recvSync()).toBe('x');
  });

  it('an aborted or timed-out recv takes nothing', async () => {
    const [a, b] = pipe();
    const controller = new AbortController();
    const pending = b.recv({ signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    await expect(b.recv({ timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    expect(() => b.recvSync({ timeout: 0 })).toThrow(TimeoutError);
    await a.send('kept');
    expect(await b.recv()).toBe('kept');
  });

  it('a send that times out on a full ring puts nothing, even a long message cut short', async () => {
    const [a, b] = pipe({ capacityBytes: 4096 });
    let sent = 0;
    for (;;) {
      try {
        a.sendBytesSync(Buffer.alloc(1000), 0, 1000, { timeout: 0 });
        sent++;
      } catch (error) {
        expect(error).toBeInstanceOf(TimeoutError);
        break;
      }
    }
    await expect(a.sendBytes(Buffer.alloc(100_000), 0, 100_000, { timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    let count = 0;
    while (await b.poll()) {
      expect((await b.recvBytes()).length).toBe(1000);
      count++;
    }
    expect(count).toBe(sent);
    await a.send('after');
    expect(await b.recv()).toBe('after');
  });

  it('close makes later calls throw Closed and pending waits reject', async () => {
    const [a, b] = pipe();
    const pending = b.recv();
    b.close();
    await expect(pending).rejects.toBeInstanceOf(Closed);
    expect(b.closed).toBe(true);
    expect(() => b.recvSync()).toThrow(Closed);
    await expect(b.send(1)).rejects.toBeInstanceOf(Closed);
    b.close();
    await expect(a.recv()).rejects.toBeInstanceOf(EOFError);
    a[Symbol.dispose]();
    expect(a.closed).toBe(true);
  });

  it('sendSync refuses to pass an async send still waiting', async () => {
    const [a, b] = pipe({ capacityBytes: 4096 });
    const waiting = a.sendBytes(Buffer.alloc(10_000));
    expect(() => a.sendSync(1)).toThrow(ProcessError);
    expect((await b.recvBytes()).length).toBe(10_000);
    await waiting;
  });

  it('corrupt shared memory makes recv fail with ECORRUPT, never crash', async () => {
    const [a, b] = pipe();
    await a.send('fine');
    const handle = (a as unknown as { toHandle(): HandleDescriptor }).toHandle();
    opened.push(fromHandle(handle) as unknown as Connection);
    const raw = Segment.openHandle(PIPE_KIND, handle.segment);
    const words = new Int32Array(raw.buffer);
    // Ring 0 (what end 0 writes) starts at byte 640: scribble over the record header.
    words[640 / 4] = 0x7fffffff;
    await expect(b.recv()).rejects.toBeInstanceOf(CorruptionError);
    words[128 / 4] = 12345; // a tail that makes no sense
    await expect(b.recv()).rejects.toMatchObject({ code: 'ECORRUPT' });
    raw.close();
  });
});

describe('Pipe arguments', () => {
  // Pipe()'s own bad options are rows of test/bad-input.test.ts.
  it('bad arguments: Sync forms throw, async forms reject (never throw)', async () => {
    const [a, b] = pipe();
    const cases: [() => unknown, ErrorConstructor][] = [
      [() => a.sendBytesSync('text' as unknown as Buffer), TypeError],
      [() => a.sendBytesSync(Buffer.alloc(4), 5), RangeError],
      [() => a.sendBytesSync(Buffer.alloc(4), 1, 4), RangeError],
      [() => a.sendBytesSync(Buffer.alloc(4), -1), RangeError],
      [() => a.sendSync(1, { timeout: 'x' as unknown as number }), TypeError],
      [() => b.recvBytesSync(-1), RangeError],
      [() => b.recvBytesSync(1.5), RangeError],
      [() => b.recvBytesIntoSync(Buffer.alloc(4), 9), RangeError],
      [() => b.pollSync({ timeout: Number.NaN }), TypeError],
      [() => b.recvSync(5 as unknown as undefined), TypeError],
      [() => a.sendSync(() => 1), Error],
    ];
    for (const [call, type] of cases) expect(call).toThrow(type);
    const rejections: [() => Promise<unknown>, ErrorConstructor][] = [
      [() => a.sendBytes(42 as unknown as Buffer), TypeError],
      [() => a.sendBytes(Buffer.alloc(4), 0, 5), RangeError],
      [() => b.recvBytes(-1), RangeError],
      [() => b.recvBytesInto({} as Buffer), TypeError],
      [() => b.poll({ timeout: 'soon' as unknown as number }), TypeError],
      [() => b.recv({ signal: 'no' as unknown as AbortSignal }), TypeError],
      [() => a.send(Symbol('x')), Error],
    ];
    for (const [call, type] of rejections) {
      let promise: Promise<unknown> | undefined;
      expect(() => (promise = call())).not.toThrow();
      await expect(promise).rejects.toBeInstanceOf(type);
    }
    await expect(a.send(() => 1)).rejects.toMatchObject({ name: 'SerializationError' });
  });

  it('a one-way pipe refuses the wrong direction with EBADF', async () => {
    const [reader, writer] = pipe({ duplex: false });
    expect([reader.readable, reader.writable, writer.readable, writer.writable]).toEqual([true, false, false, true]);
    await expect(reader.send(1)).rejects.toMatchObject({ code: 'EBADF' });
    expect(() => writer.recvSync()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('a handle revived after every holder is gone fails with ENOENT', async () => {
    const [a, b] = Pipe();
    const handle = (a as unknown as { toHandle(): HandleDescriptor }).toHandle();
    const revived = fromHandle(handle) as unknown as Connection;
    a.close();
    revived.close();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the exporter's keeper lets go
    expect(() => fromHandle(handle)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    b.close();
    names.push(handle.segment as string, ...(handle.ends as string[]));
  });
});
