// The server's polling of its local clients' channels: while requests keep coming, it looks at
// every channel between event-loop turns (in bursts, so that sockets and timers still run); once
// they stop for a while, it raises every channel's flag and sleeps until a doorbell. When the
// machine has no core to spare (spin.ts) it does not poll but parks briefly on a futex instead.
import type { ChannelEnd } from './channel.js';
import { spinAllowed } from '../spin.js';

/** Poll in bursts of this long (ms), and for a window after the last request that grows while
 * requests keep coming in it and shrinks while they do not. */
const BURST = 0.02;
const WINDOW_MIN = 0.05;
const WINDOW_MAX = 0.5;
/** Without polling: park on the busiest channel for a short, adaptive while (ms). */
const PARK_MIN = 0.05;
const PARK_MAX = 0.5;

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
  #window = WINDOW_MAX;
  #park = PARK_MAX / 2;
  /** The connection that had work last: the one worth parking on. */
  #recent: Polled | undefined;

  constructor(connections: Iterable<Polled>, active: () => boolean) {
    this.#connections = connections;
    this.#active = active;
  }

  /** Local clients are active: poll their channels for a while (or sleep, see spin.ts). */
  kick(): void {
    if (this.#spinning || !this.#active()) return;
    if (!spinAllowed()) {
      this.#parkForRequest();
      return this.#sleep();
    }
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
    for (const connection of this.#connections) {
      const some = connection.pump();
      if (some > 0) this.#recent = connection;
      taken += some;
    }
    return taken;
  }

  /**
   * Polling is off (an overloaded machine): block on a futex for a short while on the channel that
   * had work last, whose client wakes us directly when it publishes, instead of going through a
   * doorbell and the event loop. Others ring the socket as usual and are served after the park.
   */
  #parkForRequest(): void {
    const target = this.#recent;
    if (target?.channel === undefined) {
      this.#recent = undefined;
      return;
    }
    const deadline = performance.now() + this.#park;
    let served = false;
    for (;;) {
      const channel = target.channel;
      if (channel === undefined) break;
      for (const connection of this.#connections) connection.channel?.sleep();
      channel.park();
      if (this.#pumpAll() > 0) {
        served = true;
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0 || !this.#active()) break;
      channel.reader.park(left);
      for (const connection of this.#connections) connection.channel?.wake();
      if (this.#pumpAll() > 0) served = true;
    }
    this.#park = served ? Math.min(PARK_MAX, this.#park * 1.25) : Math.max(PARK_MIN, this.#park / 2);
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
    this.#parkForRequest();
    this.#sleep();
  };
}
