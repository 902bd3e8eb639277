// The server's polling of its local clients' channels: while requests keep coming, it looks at
// every channel between event-loop turns (in bursts, so that sockets and timers still run); once
// they stop for a while, or when the machine has no core to spare (spin.ts), it raises every
// channel's flag and sleeps until a doorbell.
import type { ChannelEnd } from './channel.js';
import { spinAllowed } from './spin.js';

/** Poll in bursts of this long (ms), and for a window after the last request that grows while
 * requests keep coming in it and shrinks while they do not. */
const BURST = 0.02;
const WINDOW_MIN = 0.05;
const WINDOW_MAX = 0.5;

/** What the poller needs of a connection. */
export interface Polled {
  readonly channel: ChannelEnd | undefined;
  /** Takes waiting requests; returns how many. */
  pump(): number;
}

export class ChannelPoller {
  readonly #connections: Iterable<Polled>;
  readonly #active: () => boolean;
  #spinning = false;
  #lastWork = 0;
  #window = WINDOW_MAX / 2;

  constructor(connections: Iterable<Polled>, active: () => boolean) {
    this.#connections = connections;
    this.#active = active;
  }

  /** Local clients are active: poll their channels for a while (or sleep, see spin.ts). */
  kick(): void {
    if (this.#spinning || !this.#active()) return;
    if (!spinAllowed()) return this.#sleep();
    this.#spinning = true;
    this.#lastWork = performance.now();
    setImmediate(this.#burst);
  }

  /** A doorbell came in: every channel may have work. */
  wakeAll(): void {
    for (const connection of this.#connections) connection.channel?.wake();
    if (this.#pumpAll() > 0) this.#lastWork = performance.now();
    this.kick();
  }

  #pumpAll(): number {
    let taken = 0;
    for (const connection of this.#connections) taken += connection.pump();
    return taken;
  }

  /** Raises every channel's flag, then looks once more (channel.ts); work found: a new turn. */
  #sleep(): void {
    for (const connection of this.#connections) connection.channel?.sleep();
    if (this.#pumpAll() === 0) return;
    for (const connection of this.#connections) connection.channel?.wake();
    setImmediate(() => this.wakeAll());
  }

  readonly #burst = (): void => {
    if (!this.#active()) {
      this.#spinning = false;
      return;
    }
    const start = performance.now();
    let now = start;
    while (now - start < BURST && spinAllowed()) {
      if (this.#pumpAll() > 0) {
        if (now - this.#lastWork > BURST) this.#window = Math.min(WINDOW_MAX, this.#window * 1.5);
        this.#lastWork = performance.now();
      }
      now = performance.now();
    }
    if (now - this.#lastWork < this.#window && spinAllowed()) {
      setImmediate(this.#burst);
      return;
    }
    this.#window = Math.max(WINDOW_MIN, this.#window / 2);
    this.#spinning = false;
    this.#sleep();
  };
}
