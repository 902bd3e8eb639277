// Security checks as tests (DESIGN.md "Security", API.md sections 4, 7 and 8):
//
//   (a) every segment the library creates is 0600 and ours whatever the umask, and is created with
//       O_EXCL: a taken name (or a planted file or symlink) is EEXIST, never silently attached;
//       opening a segment others can read, or that another user owns, is EACCES;
//   (b) generated names carry 128 random bits: unrelated from one creation to the next;
//   (c) a peer that has not authenticated gets nothing decoded (Listener on Unix and TCP, Client
//       against a fake server, a Manager), and a wrong key is an AuthenticationError;
//   (d) a peer cannot make us buffer what it announces: oversized frames are refused from the
//       header, before the payload arrives;
//   (e) live handles never cross a TCP connection: the sender refuses, and a receiver refuses a
//       message holding one before decoding any of it; Unix-socket peers may pass handles.
import { createHmac, randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  Array as SArray,
  AuthenticationError,
  Barrier,
  BoundedSemaphore,
  Client,
  Condition,
  Event,
  JoinableQueue,
  Listener,
  Lock,
  Manager,
  NamedSemaphore,
  Pipe,
  Pool,
  Queue,
  RLock,
  RawArray,
  RawValue,
  Semaphore,
  SerializationError,
  ShareableList,
  SharedMemory,
  SimpleQueue,
  type SyncManager,
  Value,
  registerClass,
  serialize,
  type Address,
  type Connection,
} from 'multiproc';

import { shmInUse, sleep } from './helpers.js';

const uid = process.geteuid!();
const tag = `sec${process.pid}`;
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // already gone
    }
  }
});

function keep<T extends { close(): void }>(object: T, unlink?: () => void): T {
  cleanups.push(() => {
    try {
      unlink?.();
    } finally {
      object.close();
    }
  });
  return object;
}

/** Rejects if `promise` has not settled in `ms`: no test waits unboundedly. */
function within<T>(promise: Promise<T>, ms = 10_000, what = 'the operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- a class whose decoding is observable: the canary of "nothing was deserialized" ----

class Canary {
  constructor(readonly n: number) {}
}
let canariesDecoded = 0;
registerClass(Canary, {
  name: `security-canary-${tag}`,
  toWire: (canary) => canary.n,
  fromWire: (n: number) => {
    canariesDecoded++;
    return new Canary(n);
  },
});

// ---- /dev/shm files this process maps or holds open ----

/** The /dev/shm files that `make` created (mapped or held open by this process), with their stat. */
function filesMadeBy(make: () => void): Map<string, { mode: number; uid: number }> {
  const before = shmInUse();
  make();
  const made = new Map<string, { mode: number; uid: number }>();
  for (const path of shmInUse()) {
    if (before.has(path) || !existsSync(path)) continue;
    const stat = statSync(path);
    made.set(path, { mode: stat.mode & 0o7777, uid: stat.uid });
  }
  return made;
}

const CREATORS: Array<[string, () => { close(): void; unlink?(): void }]> = [
  ['Queue', () => new Queue()],
  ['SimpleQueue', () => new SimpleQueue()],
  ['JoinableQueue', () => new JoinableQueue()],
  ['Lock', () => new Lock()],
  ['RLock', () => new RLock()],
  ['Semaphore', () => new Semaphore(2)],
  ['BoundedSemaphore', () => new BoundedSemaphore(2)],
  ['Condition', () => new Condition()],
  ['Event', () => new Event()],
  ['Barrier', () => new Barrier(2)],
  ['Value', () => new Value('i', 1)],
  ['Array', () => new SArray('d', 16)],
  ['RawValue', () => new RawValue('q', 1n)],
  ['RawArray', () => new RawArray('B', 64)],
  ['named Queue', () => new Queue({ name: `${tag}-mq` })],
  ['named Lock', () => new Lock({ name: `${tag}-ml` })],
  ['named Value', () => new Value('i', 0, { name: `${tag}-mv` })],
  ['SharedMemory', () => new SharedMemory({ create: true, size: 100 })],
  ['named SharedMemory', () => new SharedMemory({ name: `mptest-${tag}-shm`, create: true, size: 100 })],
  ['ShareableList', () => new ShareableList([1, 'two', null])],
];

describe('(a) segments are 0600, ours, and created exclusively', () => {
  for (const umask of [0, 0o022, 0o077]) {
    it(`every kind of object makes only 0600 files of this user (umask ${umask.toString(8).padStart(3, '0')})`, () => {
      const previous = process.umask(umask);
      try {
        for (const [what, create] of CREATORS) {
          let object: { close(): void; unlink?(): void } | undefined;
          const made = filesMadeBy(() => (object = create()));
          keep(object!, () => object!.unlink?.());
          expect(made.size, `${what} made no file under /dev/shm`).toBeGreaterThan(0);
          for (const [path, stat] of made) {
            expect({ what, path, mode: stat.mode.toString(8), uid: stat.uid }).toEqual({
              what,
              path,
              mode: '600',
              uid,
            });
          }
        }
        // A Pipe: its segment and the two end files.
        const pipeFiles = filesMadeBy(() => {
          const [a, b] = Pipe();
          keep(a);
          keep(b);
        });
        expect(pipeFiles.size).toBe(3);
        for (const stat of pipeFiles.values()) expect(stat).toEqual({ mode: 0o600, uid });
      } finally {
        process.umask(previous);
      }
    });
  }

  it('a NamedSemaphore, a queue side file and the liveness registry are 0600 too (umask 000)', async () => {
    const previous = process.umask(0);
    try {
      const sem: NamedSemaphore = keep(new NamedSemaphore({ name: `mptest-${tag}-sem`, create: true }), () =>
        sem.unlink(),
      );
      expect(statSync(`/dev/shm/sem.mptest-${tag}-sem`).mode & 0o777).toBe(0o600);
      // A message larger than half the ring rides in a side file until it is taken.
      const q = keep(new Queue({ capacityBytes: 4096 }));
      const before = new Set(readdirSync('/dev/shm'));
      q.putBytesSync(Buffer.alloc(64 * 1024, 7));
      // This queue's side files only (other test files run at the same time): an unnamed queue's
      // id is 'o' and its segment's random part (src/queues/core.ts).
      const id = `o${(q.toHandle().segment as string).slice('/mp-o-'.length)}`;
      const sideFiles = readdirSync('/dev/shm').filter((name) => !before.has(name) && name.includes(`-QOVF-${id}.`));
      expect(sideFiles.length).toBe(1);
      const side = statSync(`/dev/shm/${sideFiles[0]!}`);
      expect([side.mode & 0o777, side.uid]).toEqual([0o600, uid]);
      expect((await q.getBytes({ timeout: 5_000 })).length).toBe(64 * 1024);
      const registry = statSync(`/dev/shm/multiproc-${uid}.liveness`);
      expect([registry.mode & 0o777, registry.uid]).toEqual([0o600, uid]);
    } finally {
      process.umask(previous);
    }
  });

  it('a Pool and a Manager map only 0600 segments of this user', async () => {
    const before = shmInUse();
    const pool = new Pool({ processes: 1 });
    let manager: SyncManager | undefined;
    try {
      expect(await within(pool.apply((x: number) => x + 1, [1]))).toBe(2);
      manager = await within(Manager());
      const d = await manager.dict();
      await d.set('a', 1);
      const seen = [...shmInUse()].filter((path) => !before.has(path) && existsSync(path));
      // The pool's channel to its worker and the manager's shared-memory channel at least.
      expect(seen.length).toBeGreaterThanOrEqual(2);
      for (const path of seen) {
        const stat = statSync(path);
        expect({ path, mode: (stat.mode & 0o777).toString(8), uid: stat.uid }).toEqual({ path, mode: '600', uid });
      }
    } finally {
      pool.terminate();
      await within(pool.join());
      await manager?.shutdown();
    }
  });

  it('SharedMemory({ mode }) gets exactly that mode, whatever the umask', () => {
    const previous = process.umask(0o077);
    try {
      const shm = new SharedMemory({ name: `mptest-${tag}-mode`, create: true, size: 10, mode: 0o640 });
      keep(shm, () => shm.unlink());
      expect(statSync(`/dev/shm/mptest-${tag}-mode`).mode & 0o777).toBe(0o640);
      // Group-readable: a plain attach refuses it, { mode } accepts it.
      expect(() => new SharedMemory({ name: `mptest-${tag}-mode` })).toThrow(
        expect.objectContaining({ code: 'EACCES' }),
      );
      keep(new SharedMemory({ name: `mptest-${tag}-mode`, mode: 0o640 }));
    } finally {
      process.umask(previous);
    }
  });

  describe('a taken name is EEXIST, never a silent attach', () => {
    const named: Array<[string, (name: string) => { close(): void; unlink?(): void }]> = [
      ['Queue', (name) => new Queue({ name })],
      ['SimpleQueue', (name) => new SimpleQueue({ name })],
      ['JoinableQueue', (name) => new JoinableQueue({ name })],
      ['Lock', (name) => new Lock({ name })],
      ['RLock', (name) => new RLock({ name })],
      ['Semaphore', (name) => new Semaphore(1, { name })],
      ['BoundedSemaphore', (name) => new BoundedSemaphore(1, { name })],
      ['Condition', (name) => new Condition(null, { name })],
      ['Event', (name) => new Event({ name })],
      ['Barrier', (name) => new Barrier(2, { name })],
      ['Value', (name) => new Value('i', 0, { name })],
      ['Array', (name) => new SArray('i', 2, { name })],
      ['RawValue', (name) => new RawValue('i', 0, { name })],
      ['RawArray', (name) => new RawArray('i', 2, { name })],
      ['SharedMemory', (name) => new SharedMemory({ name: `mptest-${name}`, create: true, size: 8 })],
      ['ShareableList', (name) => new ShareableList([1], { name: `mptest-${name}` })],
      ['NamedSemaphore', (name) => new NamedSemaphore({ name: `mptest-${name}`, create: true })],
    ];
    it.each(named)('%s', (_what, make) => {
      const name = `${tag}-x-${_what}`;
      const first = make(name);
      keep(first, () => first.unlink?.());
      expect(() => make(name)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    });
  });

  it('a file planted under the name (0666, or a symlink) is refused, never used or followed', () => {
    const planted = `/dev/shm/mp-n-${uid}-LOCK-${tag}-planted`;
    writeFileSync(planted, Buffer.alloc(4096), { mode: 0o666 });
    cleanups.push(() => rmSync(planted, { force: true }));
    expect(() => new Lock({ name: `${tag}-planted` })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    // Opening it (or create: 'ifMissing', which opens what exists) checks who may read it.
    expect(() => Lock.open(`${tag}-planted`)).toThrow(expect.objectContaining({ code: 'EACCES' }));
    expect(() => new Lock({ name: `${tag}-planted`, create: 'ifMissing' })).toThrow(
      expect.objectContaining({ code: 'EACCES' }),
    );
    // Owned by another user, even with mode 0600: EACCES (only root can make such a file here).
    if (uid === 0) {
      const foreign = `/dev/shm/mp-n-${uid}-EVNT-${tag}-foreign`;
      writeFileSync(foreign, Buffer.alloc(4096), { mode: 0o600 });
      cleanups.push(() => rmSync(foreign, { force: true }));
      chownSync(foreign, 65534, 65534);
      expect(() => Event.open(`${tag}-foreign`)).toThrow(expect.objectContaining({ code: 'EACCES' }));
    }
    // A symlink to a file of ours: creating refuses it, opening does not follow it.
    const target = join(tmpdir(), `${tag}-target`);
    writeFileSync(target, 'precious');
    cleanups.push(() => rmSync(target, { force: true }));
    const link = `/dev/shm/mp-n-${uid}-QUEU-${tag}-link`;
    symlinkSync(target, link);
    cleanups.push(() => rmSync(link, { force: true }));
    expect(() => new Queue({ name: `${tag}-link` })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => Queue.open(`${tag}-link`)).toThrow();
    expect(() => new SharedMemory({ name: `mp-n-${uid}-QUEU-${tag}-link`, create: true, size: 8 })).toThrow(
      expect.objectContaining({ code: 'EEXIST' }),
    );
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });
});

describe('(b) generated names are unguessable', () => {
  const TOKEN = /^[A-Za-z0-9_-]{22}$/;

  function bits(token: string): Buffer {
    const bytes = Buffer.from(token, 'base64url');
    expect(bytes.length).toBe(16);
    return bytes;
  }

  function hamming(a: Buffer, b: Buffer): number {
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      let x = a[i]! ^ b[i]!;
      for (; x !== 0; x &= x - 1) n++;
    }
    return n;
  }

  /** 128-bit tokens: about half their bits set, and any two differ in about half their bits. */
  function expectRandom(tokens: string[]): void {
    for (const token of tokens) expect(token).toMatch(TOKEN);
    expect(new Set(tokens).size).toBe(tokens.length);
    const decoded = tokens.map(bits);
    const ones = decoded.reduce((sum, b) => sum + hamming(b, Buffer.alloc(16)), 0);
    const total = decoded.length * 128;
    // Binomial(total, 1/2): these bounds are more than 6 standard deviations out.
    expect(ones / total).toBeGreaterThan(0.4);
    expect(ones / total).toBeLessThan(0.6);
    for (let i = 1; i < decoded.length; i++) {
      const d = hamming(decoded[i - 1]!, decoded[i]!);
      expect(d).toBeGreaterThan(30);
      expect(d).toBeLessThan(98);
    }
  }

  it('unnamed objects: /mp-o-<128 random bits>, unrelated from one creation to the next', () => {
    const tokens: string[] = [];
    for (let i = 0; i < 16; i++) {
      const lock = keep(new Lock());
      const segment = lock.toHandle().segment as string;
      expect(segment).toMatch(/^\/mp-o-[A-Za-z0-9_-]{22}$/);
      tokens.push(segment.slice('/mp-o-'.length));
    }
    expectRandom(tokens);
  });

  it('pipe segments and their end files', () => {
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) {
      const made = filesMadeBy(() => {
        const [a, b] = Pipe();
        keep(a);
        keep(b);
      });
      for (const path of made.keys()) {
        const name = path.slice('/dev/shm/'.length);
        expect(name).toMatch(/^mp-o-[A-Za-z0-9_-]{22}/);
        tokens.push(name.slice('mp-o-'.length, 'mp-o-'.length + 22));
      }
    }
    expectRandom(tokens);
  });

  it('SharedMemory without a name: mp-<128 random bits>', () => {
    const tokens: string[] = [];
    for (let i = 0; i < 16; i++) {
      const shm = new SharedMemory({ create: true, size: 8 });
      keep(shm, () => shm.unlink());
      expect(shm.name).toMatch(/^mp-[A-Za-z0-9_-]{22}$/);
      tokens.push(shm.name.slice(3));
    }
    expectRandom(tokens);
  });

  it('Listener socket paths: a random name in a private (0700) directory of this user', () => {
    const tokens: string[] = [];
    for (let i = 0; i < 8; i++) {
      const listener = keep(new Listener());
      const path = listener.address as string;
      const match = /\/l-([A-Za-z0-9_-]{22})\.sock$/.exec(path);
      expect(match).not.toBeNull();
      tokens.push(match![1]!);
      const dir = lstatSync(dirname(path));
      expect([dir.isDirectory(), dir.mode & 0o777, dir.uid]).toEqual([true, 0o700, uid]);
    }
    expectRandom(tokens);
  });
});

// ---- raw socket peers ----

function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** A long-form frame header (Python's i32 -1 then u64) announcing `size` bytes. */
function longHeader(size: bigint): Buffer {
  const header = Buffer.alloc(12);
  header.writeInt32BE(-1);
  header.writeBigUInt64BE(size, 4);
  return header;
}

/** A socket that reads whole frames, with deadlines. */
class RawPeer {
  readonly socket: Socket;
  #inbox = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;
  readonly ended: Promise<void>;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#inbox = Buffer.concat([this.#inbox, chunk]);
      this.#wake?.();
    });
    this.ended = new Promise((resolve) => {
      const end = (): void => {
        this.#ended = true;
        this.#wake?.();
        resolve();
      };
      socket.on('end', end);
      socket.on('close', end);
    });
  }

  static connect(address: string | { host?: string; port: number }): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket =
        typeof address === 'string' ? connect(address) : connect(address.port, address.host ?? '127.0.0.1');
      socket.once('connect', () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async readFrame(ms = 10_000): Promise<Buffer> {
    const deadline = performance.now() + ms;
    for (;;) {
      if (this.#inbox.length >= 4) {
        const size = this.#inbox.readInt32BE(0);
        if (this.#inbox.length >= 4 + size) {
          const payload = this.#inbox.subarray(4, 4 + size);
          this.#inbox = this.#inbox.subarray(4 + size);
          return payload;
        }
      }
      if (this.#ended) throw new Error('the peer closed the connection');
      const left = deadline - performance.now();
      if (left <= 0) throw new Error('no frame arrived in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const hmac = (key: Buffer, message: Buffer): Buffer => createHmac('sha256', key).update(message).digest();

/** Python's handshake, done by hand from the connecting side, so the peer can then send raw frames. */
async function authenticate(peer: RawPeer, key: Buffer): Promise<void> {
  const challenge = await peer.readFrame();
  expect(challenge.subarray(0, 11).toString()).toBe('#CHALLENGE#');
  const message = challenge.subarray(11);
  peer.write(frame(Buffer.concat([Buffer.from('{sha256}'), hmac(key, message)])));
  expect((await peer.readFrame()).toString()).toBe('#WELCOME#');
  const mine = Buffer.concat([Buffer.from('{sha256}'), randomBytes(40)]);
  peer.write(frame(Buffer.concat([Buffer.from('#CHALLENGE#'), mine])));
  const answer = await peer.readFrame();
  expect(answer.equals(Buffer.concat([Buffer.from('{sha256}'), hmac(key, mine)]))).toBe(true);
  peer.write(frame(Buffer.from('#WELCOME#')));
}

const KEY = Buffer.from('the right key');

/** A Listener at `address` with KEY, a raw peer that passed its handshake by hand, and the accepted end. */
async function authenticatedRawPeer(address: Address): Promise<{ peer: RawPeer; connection: Connection }> {
  const listener = keep(new Listener({ address, authkey: KEY }));
  const accepted = listener.accept({ timeout: 10_000 });
  const peer = await RawPeer.connect(listener.address);
  cleanups.push(() => peer.destroy());
  await authenticate(peer, KEY);
  return { peer, connection: keep(await within(accepted)) };
}

describe('(c) nothing from an unauthenticated peer is decoded', () => {
  const addresses: Array<[string, () => string | { port: number }]> = [
    ['Unix socket', () => join(tmpdir(), `${tag}-${randomBytes(4).toString('hex')}.sock`)],
    ['TCP', () => ({ port: 0 })],
  ];

  for (const [kind, address] of addresses) {
    it(`${kind}: frames sent instead of the answer are never decoded; the accept fails`, async () => {
      const listener = keep(new Listener({ address: address(), authkey: KEY }));
      const accepted = listener.accept({ timeout: 10_000 });
      const peer = await RawPeer.connect(listener.address);
      cleanups.push(() => peer.destroy());
      const canary = frame(serialize([new Canary(1), { also: new Canary(2) }]));
      // Sent at once, before the challenge is even read: the listener must not decode them.
      peer.write(Buffer.concat([canary, canary, canary]));
      await expect(within(accepted)).rejects.toBeInstanceOf(AuthenticationError);
      await within(peer.ended);
      expect(canariesDecoded).toBe(0);
    });

    it(`${kind}: a peer with a wrong key gets nothing decoded either, and the Client sees AuthenticationError`, async () => {
      const listener = keep(new Listener({ address: address(), authkey: KEY }));
      const accepted = listener.accept({ timeout: 10_000 });
      const peer = await RawPeer.connect(listener.address);
      cleanups.push(() => peer.destroy());
      const challenge = await peer.readFrame();
      peer.write(frame(Buffer.concat([Buffer.from('{sha256}'), hmac(Buffer.from('wrong'), challenge.subarray(11))])));
      peer.write(frame(serialize(new Canary(3))));
      await expect(within(accepted)).rejects.toBeInstanceOf(AuthenticationError);
      expect((await peer.readFrame()).toString()).toBe('#FAILURE#');
      expect(canariesDecoded).toBe(0);
      // And through the library on both ends.
      const [server, client] = await Promise.allSettled([
        listener.accept({ timeout: 10_000 }),
        Client(listener.address, { authkey: 'wrong', timeout: 10_000 }),
      ]);
      expect(server).toMatchObject({ status: 'rejected', reason: expect.any(AuthenticationError) });
      expect(client).toMatchObject({ status: 'rejected', reason: expect.any(AuthenticationError) });
    });
  }

  describe('a Client against a fake server that does not know the key', () => {
    let server: Server;
    let port = 0;
    let behave: (peer: RawPeer) => Promise<void> = async () => {};

    beforeAll(async () => {
      server = createServer((socket) => {
        void behave(new RawPeer(socket)).catch(() => {});
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('a server that sends objects instead of a challenge: AuthenticationError, nothing decoded', async () => {
      behave = async (peer) => {
        peer.write(frame(serialize(new Canary(4))));
        peer.write(frame(serialize(new Canary(5))));
        await sleep(10);
      };
      await expect(within(Client({ port }, { authkey: KEY, timeout: 10_000 }))).rejects.toBeInstanceOf(
        AuthenticationError,
      );
      expect(canariesDecoded).toBe(0);
    });

    it('a server that welcomes any answer but cannot answer ours: AuthenticationError, nothing decoded', async () => {
      behave = async (peer) => {
        peer.write(frame(Buffer.concat([Buffer.from('#CHALLENGE#{sha256}'), randomBytes(40)])));
        await peer.readFrame();
        peer.write(frame(Buffer.from('#WELCOME#')));
        await peer.readFrame(); // our challenge: it cannot answer, so it sends objects
        peer.write(frame(serialize(new Canary(6))));
        peer.write(frame(serialize(new Canary(7))));
      };
      await expect(within(Client({ port }, { authkey: KEY, timeout: 10_000 }))).rejects.toBeInstanceOf(
        AuthenticationError,
      );
      expect(canariesDecoded).toBe(0);
    });
  });

  it('a Manager on TCP: an unauthenticated peer cannot make the server revive anything', async () => {
    const manager = await within(Manager({ address: { port: 0 }, authkey: KEY }));
    cleanups.push(() => manager.shutdown());
    const queue = keep(new Queue());
    const segment = `/dev/shm${queue.toHandle().segment as string}`;
    const serverPid = manager.process!.pid!;
    const peer = await RawPeer.connect(manager.address as { port: number });
    cleanups.push(() => peer.destroy());
    // A Hello and a Create holding a live Queue handle, sent without answering the challenge.
    peer.write(frame(serialize([1, 1, { version: 1, channel: false }])));
    peer.write(frame(serialize([2, 3, 'dict', [{ q: queue }]])));
    await within(peer.ended, 10_000, 'the server dropping the peer');
    expect(shmInUse(serverPid).has(segment)).toBe(false);
    // A wrong key is an AuthenticationError for the client. (A SyncManager of this process would
    // reuse the connection this process already has to that server, key or not: use Client.)
    await expect(within(Client(manager.address!, { authkey: 'wrong', timeout: 10_000 }))).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    // The server still serves those who know the key.
    const d = await manager.dict<string, number>();
    await d.set('ok', 1);
    expect(await d.get('ok')).toBe(1);
  });
});

describe('(d) a peer cannot make us buffer what it announces', () => {
  it('before authentication: a frame header over 256 bytes fails the handshake at once', async () => {
    for (const header of [Buffer.from([0x7f, 0xff, 0xff, 0xff]), longHeader(2n ** 62n), Buffer.from([0, 0, 1, 1])]) {
      const listener = keep(new Listener({ address: { port: 0 }, authkey: KEY }));
      const accepted = listener.accept({ timeout: 10_000 });
      const peer = await RawPeer.connect(listener.address);
      cleanups.push(() => peer.destroy());
      peer.write(header); // the header alone: nothing of the payload follows
      await expect(within(accepted, 5_000)).rejects.toBeInstanceOf(AuthenticationError);
      await within(peer.ended);
    }
  });

  it('after authentication: an impossible length is EMSGSIZE from the header alone; the connection is dropped', async () => {
    for (const header of [longHeader(2n ** 40n), Buffer.from([0xff, 0xff, 0xff, 0xfb])]) {
      const { peer, connection } = await authenticatedRawPeer({ port: 0 });
      peer.write(header);
      await expect(within(connection.recv({ timeout: 5_000 }))).rejects.toMatchObject({ code: 'EMSGSIZE' });
      await within(peer.ended);
    }
  });

  it('a large announced frame is not read ahead of the caller: recvBytes(max) refuses it from the header', async () => {
    const { peer, connection } = await authenticatedRawPeer(join(tmpdir(), `${tag}-big.sock`));
    const header = Buffer.alloc(4);
    header.writeInt32BE(1 << 30);
    peer.write(Buffer.concat([header, Buffer.alloc(1000)]));
    await expect(within(connection.recvBytes(64 * 1024, { timeout: 5_000 }))).rejects.toMatchObject({
      name: 'BufferTooShort',
    });
    const before = process.memoryUsage().arrayBuffers;
    await expect(connection.recv({ timeout: 100 })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('a Manager drops a peer whose frame is over its limits (Hello, then maxMessageBytes), from the header', async () => {
    const manager = await within(Manager({ address: { port: 0 }, authkey: KEY, maxMessageBytes: 1 << 20 }));
    cleanups.push(() => manager.shutdown());
    // Over the Hello's limit (a few KiB).
    const first = await RawPeer.connect(manager.address as { port: number });
    cleanups.push(() => first.destroy());
    await authenticate(first, KEY);
    const header = Buffer.alloc(4);
    header.writeInt32BE(1 << 20);
    first.write(header);
    await within(first.ended, 10_000, 'the server dropping a big Hello');
    // Over maxMessageBytes after a good Hello.
    const second = await RawPeer.connect(manager.address as { port: number });
    cleanups.push(() => second.destroy());
    await authenticate(second, KEY);
    second.write(frame(serialize([1, 1, { version: 1, channel: false }])));
    await second.readFrame();
    header.writeInt32BE((1 << 20) + 1);
    second.write(header);
    await within(second.ended, 10_000, 'the server dropping an oversized call');
    const d = await manager.dict<string, number>();
    await d.set('still', 1);
    expect(await d.get('still')).toBe(1);
  });
});

describe('(e) live handles never cross a TCP connection', () => {
  async function tcpPair(): Promise<[Connection, Connection]> {
    const listener = keep(new Listener({ address: { port: 0 }, authkey: KEY }));
    const [server, client] = await Promise.all([
      listener.accept({ timeout: 10_000 }),
      Client(listener.address, { authkey: KEY, timeout: 10_000 }),
    ]);
    return [keep(server), keep(client)];
  }

  it('sending a handle to a TCP peer fails in the sender with SerializationError', async () => {
    const [server, client] = await tcpPair();
    const queue = keep(new Queue());
    const [a, b] = Pipe();
    keep(a);
    keep(b);
    await expect(client.send({ deep: [{ queue }] })).rejects.toBeInstanceOf(SerializationError);
    expect(() => server.sendSync([keep(new Lock())])).toThrow(SerializationError);
    const shm: SharedMemory = keep(new SharedMemory({ create: true, size: 8 }), () => shm.unlink());
    await expect(client.send(shm)).rejects.toThrow(/TCP/);
    await expect(client.send([a])).rejects.toThrow(/TCP/);
    // The connection is still good for plain data.
    await client.send({ plain: [1, 'two'] });
    expect(await server.recv({ timeout: 5_000 })).toEqual({ plain: [1, 'two'] });
  });

  it('a message holding a handle from a TCP peer is refused before any of it is decoded', async () => {
    const { connection, peer } = await authenticatedRawPeer({ port: 0 });
    const queue = keep(new Queue());
    const segment = `/dev/shm${queue.toHandle().segment as string}`;
    const mapped = (): number =>
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((line) => line.endsWith(segment)).length;
    const before = mapped();
    // A canary first, then the handle: if anything were decoded, the canary would count.
    peer.write(frame(serialize([new Canary(8), { q: queue }])));
    peer.write(frame(serialize({ after: 'the refused message' })));
    const error = await connection.recv({ timeout: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as Error).message).toMatch(/network peer/);
    expect(canariesDecoded).toBe(0);
    expect(mapped()).toBe(before);
    // The refused message is consumed, not stuck: the next one reads.
    expect(await connection.recv({ timeout: 5_000 })).toEqual({ after: 'the refused message' });
    // Its bytes can still be read as bytes (nothing is decoded then).
    peer.write(frame(serialize([{ q: queue }])));
    expect((await connection.recvBytes(null, { timeout: 5_000 })).length).toBeGreaterThan(0);
    // A handle under 300 levels of arrays is found; under 200 000 (deeper than any decoder
    // recursion) the message is refused as too deep: the walk fails closed, never open.
    const deep: unknown[] = [];
    let at = deep;
    for (let i = 0; i < 300; i++) at.push((at = []));
    at.push(queue);
    peer.write(frame(serialize(deep)));
    await expect(connection.recv({ timeout: 5_000 })).rejects.toThrow(/live handle/);
    const handle = serialize(queue);
    const parts: Buffer[] = [Buffer.from([handle[0]!])];
    for (let i = 0; i < 200_000; i++) parts.push(Buffer.from([13 /* T_ARRAY */, 1, 0, 0, 0]));
    parts.push(handle.subarray(1));
    peer.write(frame(Buffer.concat(parts)));
    await expect(connection.recv({ timeout: 5_000 })).rejects.toBeInstanceOf(SerializationError);
    expect(mapped()).toBe(before);
    expect(canariesDecoded).toBe(0);
  });

  it('over a Unix socket of the same user, handles travel (as documented)', async () => {
    const listener = keep(new Listener({ authkey: KEY }));
    const [server, client] = await Promise.all([
      listener.accept({ timeout: 10_000 }),
      Client(listener.address, { authkey: KEY, timeout: 10_000 }),
    ]);
    keep(server);
    keep(client);
    const queue = keep(new Queue());
    await client.send({ queue });
    const received = (await server.recv({ timeout: 5_000 })) as { queue: Queue };
    keep(received.queue);
    received.queue.putSync('through a revived handle');
    expect(queue.getSync({ timeout: 5_000 })).toBe('through a revived handle');
  });
});
