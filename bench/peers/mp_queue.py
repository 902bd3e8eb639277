"""Python's multiprocessing.Queue: 1->1 small objects, 1->1 64-byte bytes, 4->4 small objects.

The parent times from the first measured put to the consumers' acknowledgement that every item
arrived (after a warm-up pass through the same processes), and checks the sum of what arrived.
"""

import multiprocessing as mp

from common import args, fail, now, reap, report

TIMEOUT = 60


def consume(q, ack, warm, n, mode):
    for _ in range(warm):
        q.get()
    ack.put("warm")
    total = 0
    if mode == "bytes":
        for _ in range(n):
            total += int.from_bytes(q.get()[:4], "little")
    else:
        for _ in range(n):
            total += q.get()["i"]
    ack.put(total)


def one_to_one(n, warm, mode):
    q, ack = mp.Queue(), mp.Queue()
    p = mp.Process(target=consume, args=(q, ack, warm, n, mode), daemon=True)
    p.start()
    try:
        if mode == "bytes":
            buf = bytearray(64)
            for i in range(warm):
                q.put(bytes(buf))
            if ack.get(timeout=TIMEOUT) != "warm":
                fail("no warm ack")
            t0 = now()
            for i in range(n):
                buf[0:4] = i.to_bytes(4, "little")
                q.put(bytes(buf))
        else:
            for i in range(warm):
                q.put({"i": i})
            if ack.get(timeout=TIMEOUT) != "warm":
                fail("no warm ack")
            t0 = now()
            for i in range(n):
                q.put({"i": i})
        total = ack.get(timeout=TIMEOUT)
        t1 = now()
    finally:
        reap([p])
    if total != n * (n - 1) // 2:
        fail(f"sum mismatch {total}")
    return n / (t1 - t0)


def producer(q, go, warm, n, base):
    for _ in range(warm):
        q.put({"i": -1})
    q.put(None)
    go.get()
    for i in range(n):
        q.put({"i": base + i})
    q.put(None)


def consumer(q, go, ack):
    while q.get() is not None:
        pass
    ack.put("warm")
    go.get()  # every consumer has taken exactly one warm-up sentinel: none may take a second
    total = count = 0
    while True:
        m = q.get()
        if m is None:
            break
        total += m["i"]
        count += 1
    ack.put((total, count))


def four_to_four(n, warm):
    per, wper = n // 4, max(1, warm // 4)
    q, go, ack = mp.Queue(), mp.Queue(), mp.Queue()
    procs = [mp.Process(target=producer, args=(q, go, wper, per, k * per), daemon=True) for k in range(4)]
    procs += [mp.Process(target=consumer, args=(q, go, ack), daemon=True) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        for _ in range(4):
            if ack.get(timeout=TIMEOUT) != "warm":
                fail("no warm ack")
        t0 = now()
        for _ in range(8):
            go.put(1)
        results = [ack.get(timeout=TIMEOUT) for _ in range(4)]
        t1 = now()
    finally:
        reap(procs)
    total, count = sum(r[0] for r in results), sum(r[1] for r in results)
    if count != per * 4 or total != (per * 4) * (per * 4 - 1) // 2:
        fail(f"lost or duplicated items: count {count}, sum {total}")
    return per * 4 / (t1 - t0)


if __name__ == "__main__":
    a = args(mode=str)
    if a.mode == "4x4":
        report(four_to_four(a.n, a.warm))
    else:
        report(one_to_one(a.n, a.warm, a.mode))
