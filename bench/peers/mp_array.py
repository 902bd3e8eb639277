"""Python's shared memory: a child sums 8*n bytes of shared_memory as doubles through a memoryview.

The forked child inherits the SharedMemory object (no second attach, so the resource tracker sees
one owner), sums it reps times after one warm-up pass, and sends the median time in ms.
"""

import multiprocessing as mp
import time
from multiprocessing import shared_memory

from common import args, reap, report


def summer(shm, reps, out):
    mv = shm.buf.cast("d")
    times = []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        s = sum(mv)
        if r:
            times.append((time.perf_counter() - t0) * 1000)
    mv.release()
    times.sort()
    out.put((times[len(times) // 2], s))


if __name__ == "__main__":
    a = args(reps=int)
    ctx = mp.get_context("fork")
    shm = shared_memory.SharedMemory(create=True, size=8 * a.n)
    try:
        out = ctx.Queue()
        p = ctx.Process(target=summer, args=(shm, a.reps, out), daemon=True)
        p.start()
        try:
            ms, _ = out.get(timeout=60)
        finally:
            reap([p])
    finally:
        shm.close()
        shm.unlink()
    report(ms)
