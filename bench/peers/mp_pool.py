"""Python's multiprocessing.Pool(2): map (default chunksize), apply_async one by one, imap chunksize 1,
and start-up (spawn context: until both workers have run a task).

map:   repeat times pool.map(square, range(n)); tasks/s over all of them.
apply: [pool.apply_async(square, (i,)) for i in range(n)], then every .get(); tasks/s.
imap:  for r in pool.imap(square, range(n), chunksize=1); tasks/s.
start: reps times: Pool(2) (spawn) until two distinct worker pids answered; median ms.
Every mode runs a warm-up of its own kind first, on the same pool.
"""

import multiprocessing as mp
import os

from common import args, fail, now, report


def square(x):
    return x * x


def expected(n):
    return (n - 1) * n * (2 * n - 1) // 6


def run(pool, mode, n, repeat):
    if mode == "map":
        total = 0
        for _ in range(repeat):
            total += sum(pool.map(square, range(n)))
        return total, n * repeat
    if mode == "apply":
        rs = [pool.apply_async(square, (i,)) for i in range(n)]
        return sum(r.get(timeout=60) for r in rs), n
    if mode == "imap":
        return sum(pool.imap(square, range(n), chunksize=1)), n
    fail(f"unknown mode {mode}")


def start(reps):
    ctx = mp.get_context("spawn")
    times = []
    for _ in range(reps + 1):
        t0 = now()
        with ctx.Pool(2) as pool:
            seen = set()
            for _ in range(1000):
                seen.update(r.get(timeout=60) for r in [pool.apply_async(os.getpid) for _ in range(2)])
                if len(seen) == 2:
                    break
            t = (now() - t0) * 1000
            pool.close()
            pool.join()
        times.append(t)
    times = sorted(times[1:])
    return times[len(times) // 2]


if __name__ == "__main__":
    a = args(mode=str, repeat=int)
    if a.mode == "start":
        report(start(a.n))
    else:
        with mp.Pool(2) as pool:
            run(pool, a.mode, a.warm, 1)
            t0 = now()
            total, tasks = run(pool, a.mode, a.n, a.repeat)
            t1 = now()
            pool.close()
            pool.join()
        if total != expected(a.n) * (a.repeat if a.mode == "map" else 1):
            fail(f"wrong sum {total}")
        report(tasks / (t1 - t0))
