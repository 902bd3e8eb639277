// The doorbell: a one-byte frame on a channel connection's socket that wakes a side that sleeps.
//
// (The socket's synchronous send was measured too: no faster, and it would refuse while an async
// send is in flight.)
import type { Connection } from '../connection/index.js';
import { Doorbell } from './protocol.js';

const WAKE = Buffer.from([Doorbell.Wake]);

/** Rings the peer at the other end of `socket`; `lost` is told when the peer is gone. */
export function ringDoorbell(socket: Connection, lost: (error: unknown) => void): void {
  if (!socket.closed) socket.sendBytes(WAKE).catch(lost);
}
