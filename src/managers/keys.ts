// Authkeys of the managers this process talks to, and how one reaches another process without
// ever appearing in JSON, argv or the environment.
//
// A proxy's handle descriptor (`toHandle()`) holds the server's address and the referent's id,
// plus an `authkey` field that is an AuthKeyRef: `JSON.stringify` drops it (toJSON returns
// undefined) and `util.inspect` shows `[authkey]`, but the library's binary serializer carries it
// (a registered class), so a proxy passed to a Process arrives with its key through the launch
// message's private pipe, as Python passes its process authkey in the spawn data. The key is
// left out of every message sent to a manager over TCP (`withoutKeys`), so it never leaves this
// machine through the manager protocol. Whoever holds an authkey can call the exposed methods of
// that manager: it is a password.
import { inspect } from 'node:util';

import type { Address } from '../connection/index.js';
import { registerClass } from '../serialize.js';

const keys = new Map<string, Buffer>();

/** A stable string naming an address: `unix:<path>` or `tcp:<host>:<port>`. */
export function addressKey(address: Address): string {
  return typeof address === 'string' ? `unix:${address}` : `tcp:${address.host ?? '127.0.0.1'}:${address.port}`;
}

/** Records the key of the manager at `address` (the newest wins: a server may restart). */
export function rememberKey(address: Address, key: Buffer): void {
  keys.set(addressKey(address), key);
}

/** The key this process knows for `address`, if any. */
export function keyFor(address: Address): Buffer | undefined {
  return keys.get(addressKey(address));
}

let stripping = 0;

/** Runs `encode` so that no AuthKeyRef it serializes carries its key (for messages to a network peer). */
export function withoutKeys<T>(encode: () => T): T {
  stripping++;
  try {
    return encode();
  } finally {
    stripping--;
  }
}

/** An authkey that travels only inside the library's binary messages; see the file comment. */
export class AuthKeyRef {
  readonly #key: Buffer | undefined;

  constructor(key: Buffer | undefined) {
    this.#key = key;
  }

  /** The key, when it came along. */
  get key(): Buffer | undefined {
    return this.#key;
  }

  /** Left out of JSON: a descriptor printed or sent as JSON holds no secret. */
  toJSON(): undefined {
    return undefined;
  }

  [inspect.custom](): string {
    return this.#key === undefined ? '[no authkey]' : '[authkey]';
  }

  static toWire(ref: AuthKeyRef): Buffer | null {
    return stripping > 0 || ref.#key === undefined ? null : ref.#key;
  }

  static fromWire(wire: unknown): AuthKeyRef {
    return new AuthKeyRef(Buffer.isBuffer(wire) && wire.length > 0 ? wire : undefined);
  }
}

registerClass(AuthKeyRef, {
  name: 'multiproc.ManagerAuthkey',
  toWire: (ref) => AuthKeyRef.toWire(ref),
  fromWire: (wire: unknown) => AuthKeyRef.fromWire(wire),
});
