"""Python's multiprocessing Value under its lock (2 processes) and an uncontended Lock.

value: two children each do `with v.get_lock(): v.value += 1` warm times, meet the parent at a
       barrier, do it n times, meet again; ops/s = 2n / time between the barriers.
lock:  acquire() + release() of an mp.Lock in this process, n times after a warm-up; ops/s.
lockwith: the same written `with lk: pass` (the context manager costs about as much as the lock).
"""

import multiprocessing as mp

from common import args, fail, now, reap, report


def increment(v, barrier, warm, n):
    lock = v.get_lock()
    for _ in range(warm):
        with lock:
            v.value += 1
    barrier.wait()
    for _ in range(n):
        with lock:
            v.value += 1
    barrier.wait()


def value(n, warm):
    v = mp.Value("i", 0)
    barrier = mp.Barrier(3)
    procs = [mp.Process(target=increment, args=(v, barrier, warm, n), daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=60)
        t0 = now()
        barrier.wait(timeout=60)
        t1 = now()
    finally:
        reap(procs)
    if v.value != 2 * (warm + n):
        fail(f"lost increments: {v.value}")
    return 2 * n / (t1 - t0)


def lock_with(n, warm):
    lk = mp.Lock()
    for _ in range(warm):
        with lk:
            pass
    t0 = now()
    for _ in range(n):
        with lk:
            pass
    t1 = now()
    return n / (t1 - t0)


def lock(n, warm):
    lk = mp.Lock()
    for _ in range(warm):
        lk.acquire()
        lk.release()
    t0 = now()
    for _ in range(n):
        lk.acquire()
        lk.release()
    t1 = now()
    return n / (t1 - t0)


if __name__ == "__main__":
    a = args(mode=str)
    modes = {"value": value, "lock": lock, "lockwith": lock_with}
    report(modes[a.mode](a.n, a.warm))
