// Python's HMAC challenge-response on an authkey (multiprocessing.connection's
// deliver_challenge / answer_challenge, 3.12 format), so our Listener and Client interoperate
// with Python's, both ways. Each side proves it holds the key; neither sends it.
//
//   challenger (deliver)                        answerer (answer)
//   '#CHALLENGE#' + '{sha256}' + 40 random  -->
//                                           <-- '{sha256}' + HMAC-SHA256(key, '{sha256}' + random)
//   '#WELCOME#' or '#FAILURE#'              -->
//
// The Listener delivers then answers; the Client answers then delivers. Every frame of the
// exchange is read with a 256-byte cap, and nothing is decoded as an object until both
// directions passed. A peer of Python <= 3.11 (20-byte challenge, raw 16-byte HMAC-MD5 answer)
// is accepted as Python 3.12 accepts it; we never offer MD5 ourselves.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { AuthenticationError, EOFError, TimeoutError } from '../errors.js';
import { describe } from '../util.js';
import type { Connection } from './connection.js';
import { PREAUTH_FRAME_BYTES } from './socket.js';

const CHALLENGE = Buffer.from('#CHALLENGE#');
const WELCOME = Buffer.from('#WELCOME#');
const FAILURE = Buffer.from('#FAILURE#');
const MESSAGE_LENGTH = 40;
const LEGACY_MESSAGE_LENGTH = 20;
const MD5_DIGEST_LENGTH = 16;
/** Python's digest names and node:crypto's. */
const DIGESTS: Record<string, string> = {
  md5: 'md5',
  sha256: 'sha256',
  sha384: 'sha384',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
};
const MAX_DIGEST_NAME = 8;

/** Checks an `authkey` option: a Buffer, Uint8Array or string (UTF-8), not empty. */
export function authkeyOf(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  let key: Buffer;
  if (typeof value === 'string') key = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) key = Buffer.from(value);
  else throw new TypeError(`authkey must be a Buffer, Uint8Array or string (got ${describe(value)})`);
  if (key.length === 0) throw new RangeError('authkey must not be empty: an empty key authenticates nobody');
  return key;
}

/** Splits '{digest}payload' (or a legacy bare MD5 message) into node's digest name and the payload. */
function digestOf(message: Buffer): [digest: string, payload: Buffer] {
  if (message.length === LEGACY_MESSAGE_LENGTH || message.length === MD5_DIGEST_LENGTH) return ['md5', message];
  if (message[0] === 0x7b /* { */) {
    const close = message.indexOf(0x7d /* } */, 1);
    if (close > 0 && close <= MAX_DIGEST_NAME + 1) {
      const digest = DIGESTS[message.subarray(1, close).toString('latin1')];
      if (digest !== undefined && digest !== 'md5') return [digest, message.subarray(close + 1)];
    }
  }
  throw new AuthenticationError('unsupported message length, missing digest prefix, or unsupported digest');
}

function hmac(digest: string, key: Buffer, message: Buffer): Buffer {
  return createHmac(digest, key).update(message).digest();
}

/** Reads one pre-authentication frame; a peer that hangs up or stalls fails authentication. */
async function receive(connection: Connection, deadline: number): Promise<Buffer> {
  const timeout = Math.max(0, deadline - performance.now());
  try {
    return await connection.recvBytes(PREAUTH_FRAME_BYTES, { timeout });
  } catch (error) {
    if (error instanceof EOFError) {
      throw new AuthenticationError('the peer closed the connection during authentication', { cause: error });
    }
    if (error instanceof TimeoutError) throw new AuthenticationError('the peer did not authenticate in time');
    throw error;
  }
}

/** Challenges the peer to prove it holds `key`; AuthenticationError if it does not. */
export async function deliverChallenge(connection: Connection, key: Buffer, deadline: number): Promise<void> {
  const message = Buffer.concat([Buffer.from('{sha256}'), randomBytes(MESSAGE_LENGTH)]);
  await connection.sendBytes(Buffer.concat([CHALLENGE, message]));
  const response = await receive(connection, deadline);
  try {
    const [digest, mac] = digestOf(response);
    const expected = hmac(digest, key, message);
    if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) {
      throw new AuthenticationError('the peer answered the challenge with a wrong digest: its authkey differs');
    }
  } catch (error) {
    await connection.sendBytes(FAILURE).catch(() => {});
    throw error;
  }
  await connection.sendBytes(WELCOME);
}

/** Answers the peer's challenge with `key`; AuthenticationError if the peer rejects it. */
export async function answerChallenge(connection: Connection, key: Buffer, deadline: number): Promise<void> {
  const frame = await receive(connection, deadline);
  if (!frame.subarray(0, CHALLENGE.length).equals(CHALLENGE)) {
    throw new AuthenticationError('protocol error: the peer did not start with a challenge');
  }
  const message = frame.subarray(CHALLENGE.length);
  if (message.length < LEGACY_MESSAGE_LENGTH) {
    throw new AuthenticationError(`the challenge is too short (${message.length} bytes)`);
  }
  const [digest] = digestOf(message);
  // The MAC covers the whole message, its '{digest}' prefix included, so it cannot be downgraded.
  const mac = hmac(digest, key, message);
  await connection.sendBytes(digest === 'md5' ? mac : Buffer.concat([Buffer.from(`{${nameOf(digest)}}`), mac]));
  const reply = await receive(connection, deadline);
  if (!reply.equals(WELCOME)) throw new AuthenticationError('the peer rejected our digest: its authkey differs');
}

function nameOf(digest: string): string {
  return Object.keys(DIGESTS).find((name) => DIGESTS[name] === digest)!;
}
