"""Shared bits of the Python peers: every peer prints one JSON line {"value": ...} as its result."""

import argparse
import json
import sys
import time

now = time.perf_counter


def args(**extra):
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--warm", type=int, default=0)
    for name, kind in extra.items():
        p.add_argument(f"--{name}", type=kind, required=True)
    return p.parse_args()


def report(value, **more):
    print(json.dumps({"value": value, **more}), flush=True)


def reap(procs, timeout=5.0):
    """Join every process; kill what does not finish, so nothing outlives the peer."""
    for p in procs:
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join(2)


def fail(message):
    print(message, file=sys.stderr, flush=True)
    sys.exit(1)
