// Pipe(), and how a Pipe end travels to another process as a handle.
//
// A descriptor names the pipe's segment, both end files and which end it is. Between
// `toHandle()` and the receiver's `fromHandle()`, the end must not look abandoned: if the sender
// closed its own copy meanwhile (`p.start(); writer.close()`, Python's idiom), the reader would
// see EOF and the segment could be removed before the child attached. So, like Python's
// resource_sharer that keeps a dup of the fd until the child fetches it, the exporting process
// keeps a hidden hold on that end (a "keeper") until every exported handle was revived
// (`exports[end]` back to 0), or until it exits. A handle that is never revived keeps the end
// alive as long as its exporter lives.
import type { HandleDescriptor } from '../handles.js';
import { Segment } from '../segment.js';
import { checkBoolean, checkInteger, checkOptionsBag, describe } from '../util.js';
import { EndHold, isEndName } from './pipe-ends.js';
import { initPipe, MAX_CAPACITY, MIN_CAPACITY, PIPE_KIND, pipeBytes, readPipeShape } from './pipe-ring.js';
import { PipeConnection } from './pipe.js';

const HANDLE_VERSION = 1;
const DEFAULT_CAPACITY = 64 * 1024;
const KEEPER_CHECK_MS = 100;

/** Options of `Pipe(...)`: duplex or one-way, and the size of each direction's ring. */
export interface PipeOptions {
  /** false: `[reader, writer]`, a one-way pipe. Default true: two ends that both send and receive. */
  duplex?: boolean | undefined;
  /** Bytes of each direction's ring (rounded up to a power of two; default 64 KiB, 4 KiB to 1 GiB). */
  capacityBytes?: number | undefined;
}

/**
 * Makes a pipe: `[a, b]`, connected both ways, or with `{ duplex: false }` `[reader, writer]`.
 * Either end can be passed to another process (Process args, a message, `toHandle()`). Throws
 * TypeError/RangeError for bad options, ENOSPC when /dev/shm is full.
 */
export function Pipe(options: PipeOptions = {}): [PipeConnection, PipeConnection] {
  checkOptionsBag(options);
  const duplex = options.duplex === undefined ? true : checkBoolean(options.duplex, 'duplex');
  let capacity = DEFAULT_CAPACITY;
  if (options.capacityBytes !== undefined) {
    const wanted = checkInteger(options.capacityBytes, 'capacityBytes', 1, MAX_CAPACITY);
    capacity = Math.max(MIN_CAPACITY, 2 ** Math.ceil(Math.log2(wanted)));
  }
  const rings = duplex ? 2 : 1;
  const first = Segment.create(PIPE_KIND, pipeBytes(capacity, rings), (s) => initPipe(s.buffer, capacity, rings));
  let second: Segment | undefined;
  const holds: EndHold[] = [];
  try {
    second = Segment.openHandle(PIPE_KIND, first.segmentName);
    holds.push(EndHold.create(), EndHold.create());
    const ends = [holds[0]!.name, holds[1]!.name] as const;
    return [
      new PipeConnection({ segment: first, end: 0, duplex, ends, hold: holds[0]! }),
      new PipeConnection({ segment: second, end: 1, duplex, ends, hold: holds[1]! }),
    ];
  } catch (error) {
    for (const hold of holds) hold.release(() => {});
    second?.close();
    first.close();
    throw error;
  }
}

/** The descriptor of a Pipe end; keeps the end held here until the descriptor is revived. */
export function exportEnd(connection: PipeConnection): HandleDescriptor {
  const { segment, end, duplex, ends } = connection.parts;
  const descriptor = {
    kind: PipeConnection.handleKind,
    version: HANDLE_VERSION,
    segment: segment.segmentName,
    ends: [...ends],
    end,
    duplex,
  };
  connection.endWords.addExport(end);
  keep(descriptor);
  return descriptor;
}

/** Attaches to the end a descriptor names. ENOENT once every holder of that end is gone. */
export function reviveEnd(descriptor: HandleDescriptor, settle = true): PipeConnection {
  if (typeof descriptor !== 'object' || descriptor === null) {
    throw new TypeError(`not a Connection handle (got ${describe(descriptor)})`);
  }
  if (descriptor.version !== HANDLE_VERSION) {
    throw new RangeError(
      `Connection handle version ${String(descriptor.version)} is not supported (this is version ${HANDLE_VERSION})`,
    );
  }
  const { ends, end, duplex } = descriptor as { ends?: unknown; end?: unknown; duplex?: unknown };
  if (!Array.isArray(ends) || ends.length !== 2 || !isEndName(ends[0]) || !isEndName(ends[1])) {
    throw new TypeError('not a Connection handle: bad end names');
  }
  if ((end !== 0 && end !== 1) || typeof duplex !== 'boolean') throw new TypeError('not a Connection handle');
  const segment = Segment.openHandle(PIPE_KIND, descriptor.segment);
  let hold: EndHold | undefined;
  try {
    readPipeShape(segment.buffer);
    hold = EndHold.attach(ends[end]);
    const connection = new PipeConnection({ segment, end, duplex, ends: [ends[0], ends[1]], hold });
    if (connection.endWords.isClosed(end)) {
      hold = undefined;
      connection.close();
      throw Object.assign(new Error('ENOENT: every holder of this pipe end has closed it, fromHandle'), {
        code: 'ENOENT',
        errno: -2,
      });
    }
    if (settle) connection.endWords.settleExport(end);
    return connection;
  } catch (error) {
    hold?.release(() => {});
    segment.close();
    throw error;
  }
}

// ---- keepers: hidden holds on exported ends, dropped once every export was revived ----

const keepers = new Map<string, PipeConnection>();
let timer: NodeJS.Timeout | undefined;
let exitHooked = false;

function keep(descriptor: HandleDescriptor & { segment: string; end: 0 | 1 }): void {
  const key = `${descriptor.segment}:${descriptor.end}`;
  if (keepers.get(key)?.closed === false) return;
  keepers.set(key, reviveEnd(descriptor, false));
  if (timer === undefined) {
    timer = setInterval(checkKeepers, KEEPER_CHECK_MS);
    // Never what keeps a process alive: at exit the kernel drops the keeper's hold anyway.
    timer.unref();
  }
  if (!exitHooked) {
    // A keeper whose handles were all revived closes properly at exit (so its end and segment
    // are removed now, not by the tracker's sweep later); one still waiting is left to the kernel.
    exitHooked = true;
    process.once('exit', checkKeepers);
  }
}

/**
 * Lets go of the keepers whose exports were all revived. Runs every 100 ms, and before a probe
 * of a peer's liveness: a keeper in this very process must not hide a dead peer from a Sync
 * wait that blocks the timer.
 */
export function checkKeepers(): void {
  if (keepers.size === 0) return;
  for (const [key, keeper] of keepers) {
    try {
      if (keeper.closed || keeper.endWords.pendingExports(keeper.parts.end) <= 0) {
        keepers.delete(key);
        keeper.close();
      }
    } catch {
      keepers.delete(key);
      keeper.close();
    }
  }
  if (keepers.size === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}
