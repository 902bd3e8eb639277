"""Python's multiprocessing.Process (spawn start method) start + join of a trivial target.

reps starts after one warm-up start; prints the median milliseconds.
"""

import multiprocessing as mp

from common import args, now, report


def noop():
    pass


if __name__ == "__main__":
    a = args()
    ctx = mp.get_context("spawn")
    times = []
    for r in range(a.n + 1):
        t0 = now()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if r:
            times.append((now() - t0) * 1000)
    times.sort()
    report(times[len(times) // 2])
