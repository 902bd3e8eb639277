"""Python's multiprocessing.Manager: a child does d[k] = i and d[k] from a manager dict, and its start-up.

dict:  a forked child does warm, then n, pairs of set + get and leaves the elapsed ms in the dict;
       ops/s counts each set + get pair as one operation (as the issue's 24 k ops/s does).
start: reps times: Manager() until a dict proxy has answered a call; median ms (default context).
"""

import multiprocessing as mp

from common import args, fail, now, reap, report


def set_get(d, warm, n):
    for i in range(warm):
        d["k"] = i
        d["k"]
    t0 = now()
    for i in range(n):
        d["k"] = i
        if d["k"] != i:
            raise RuntimeError("read back a wrong value")
    d["elapsed_ms"] = (now() - t0) * 1000


def dict_ops(n, warm):
    with mp.Manager() as manager:
        d = manager.dict()
        p = mp.Process(target=set_get, args=(d, warm, n), daemon=True)
        p.start()
        reap([p], timeout=60)
        if p.exitcode != 0:
            fail(f"child exited {p.exitcode}")
        return n * 1000 / d["elapsed_ms"]


def start(reps):
    times = []
    for r in range(reps + 1):
        t0 = now()
        with mp.Manager() as manager:
            d = manager.dict()
            d["a"] = 1
            if r:
                times.append((now() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


if __name__ == "__main__":
    a = args(mode=str)
    report(dict_ops(a.n, a.warm) if a.mode == "dict" else start(a.n))
