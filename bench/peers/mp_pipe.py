"""Python's multiprocessing.Pipe ping-pong: the parent sends {"i": i}, a child echoes it back.

Prints the mean round trip in microseconds over n round trips, after a warm-up of the same kind.
"""

import multiprocessing as mp

from common import args, now, reap, report


def echo(conn):
    while True:
        m = conn.recv()
        if m is None:
            break
        conn.send(m)
    conn.close()


if __name__ == "__main__":
    a = args()
    parent, child = mp.Pipe()
    p = mp.Process(target=echo, args=(child,), daemon=True)
    p.start()
    child.close()
    try:
        for i in range(a.warm):
            parent.send({"i": i})
            parent.recv()
        t0 = now()
        for i in range(a.n):
            parent.send({"i": i})
            parent.recv()
        t1 = now()
        parent.send(None)
    finally:
        reap([p])
    report((t1 - t0) * 1e6 / a.n)
