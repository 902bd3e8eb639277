// @ts-check
// multiproc's side of the ping-pong workload: echo every message back until null arrives.

/** @param {any} conn */
export function echo(conn) {
  for (let m = conn.recvSync(); m !== null; m = conn.recvSync()) conn.sendSync(m);
  conn.close();
}
