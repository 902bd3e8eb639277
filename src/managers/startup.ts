// How `BaseManager.start()` learns that its server process is listening (and on which port), or
// why it could not: a small segment the starter creates and passes (by name) with the launch
// arguments. The starter parks on the state word, waking every 100 ms to see whether the server
// process died first.
//
// Layout (byte offsets from the start of the segment):
//
//   offset  type       field
//   64      i32        state: 0 starting, 1 listening, 2 failed
//   68      u32        the TCP port bound (0 for a Unix socket)
//   72      u32        length of the error text
//   128     [1024]     error text (UTF-8): `code: message`
import { WaitResult } from '../binding.js';
import { CorruptionError, ProcessError } from '../errors.js';
import { waitWord } from '../futex.js';
import { native } from '../binding.js';
import type { Process } from '../process.js';
import { Segment, type SegmentKind } from '../segment.js';

const KIND: SegmentKind = { tag: 'MGST', version: 1, label: 'manager start-up' };
const STATE = 64;
const PORT = 68;
const ERROR_LENGTH = 72;
const ERROR_TEXT = 128;
const ERROR_BYTES = 1024;
const SLICE_MS = 100;

const enum State {
  Starting = 0,
  Listening = 1,
  Failed = 2,
}

export class Startup {
  readonly #segment: Segment;

  private constructor(segment: Segment) {
    this.#segment = segment;
  }

  static create(): Startup {
    return new Startup(Segment.create(KIND, ERROR_TEXT + ERROR_BYTES - 64, () => {}));
  }

  static open(segmentName: string): Startup {
    return new Startup(Segment.openHandle(KIND, segmentName));
  }

  get name(): string {
    return this.#segment.segmentName;
  }

  #words(): Int32Array {
    return new Int32Array(this.#segment.buffer, 0, ERROR_TEXT / 4);
  }

  /** Server side: listening on `port` (0 for a Unix socket). */
  listening(port: number): void {
    const words = this.#words();
    words[PORT / 4] = port;
    Atomics.store(words, STATE / 4, State.Listening);
    native.futexWake(this.#segment.buffer, STATE);
  }

  /** Server side: could not start. */
  failed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException)?.code;
    const text = `${code ? `${code}: ` : ''}${(error as Error)?.message ?? String(error)}`;
    const bytes = Buffer.from(text, 'utf8').subarray(0, ERROR_BYTES);
    new Uint8Array(this.#segment.buffer, ERROR_TEXT, ERROR_BYTES).set(bytes);
    const words = this.#words();
    words[ERROR_LENGTH / 4] = bytes.length;
    Atomics.store(words, STATE / 4, State.Failed);
    native.futexWake(this.#segment.buffer, STATE);
  }

  /**
   * Starter side: resolves the port once the server listens. Rejects with the server's error
   * (its `code` kept), or ProcessError when the process exits first or `timeoutMs` passes.
   */
  async wait(server: Process, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    const words = this.#words();
    for (;;) {
      const state = Atomics.load(words, STATE / 4);
      if (state === State.Listening) return words[PORT / 4]! >>> 0;
      if (state === State.Failed) {
        const length = Math.min(words[ERROR_LENGTH / 4]! >>> 0, ERROR_BYTES);
        const text = Buffer.from(this.#segment.buffer, ERROR_TEXT, length).toString('utf8');
        const code = /^([A-Z][A-Z0-9_]+): /.exec(text)?.[1];
        const error = new Error(`the manager's server could not start: ${text}`);
        if (code !== undefined) Object.assign(error, { code });
        throw error;
      }
      if (state !== State.Starting) throw new CorruptionError(`manager start-up state ${state}`);
      if (!server.isAlive()) {
        throw new ProcessError(`the manager's server process exited with code ${server.exitCode} before it was ready`);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new ProcessError(`the manager's server did not start within ${timeoutMs} ms`);
      const result = await waitWord(this.#segment.buffer, STATE, State.Starting, Math.min(SLICE_MS, left));
      if (result === WaitResult.Cancelled) continue;
    }
  }

  close(): void {
    this.#segment.close();
  }
}
