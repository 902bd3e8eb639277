// Owner tokens for lock words and queue slots: a 32-bit number naming this thread of this
// process, whose liveness any process can check (see native/liveness.cc: an OFD lock on a slot
// of a per-user registry, dropped by the kernel when the owner dies or its thread exits).
import { native } from './binding.js';

let token = 0;

/** This thread's owner token (never 0). Claimed on first use, released when the thread or process ends. */
export function ownerToken(): number {
  if (token === 0) token = native.livenessToken();
  return token;
}

/** Whether the thread that owns `token` is still running. 0 (no owner) is never alive. */
export function isOwnerAlive(owner: number): boolean {
  return owner !== 0 && native.livenessAlive(owner >>> 0);
}
