"""Helpers shared by the Python peer benchmarks (greenlet, gevent, eventlet).

Figures are measured the way the lgreen scripts in bench/ measure them:
per-item ns as best of several rounds, RSS from /proc/self.
"""
import gc
import sys
import time


def arg(i, default):
    return int(sys.argv[i]) if len(sys.argv) > i else default


def best(f, n, rounds=5):
    """Best wall time of `rounds` calls of f(), in ns per item (n items)."""
    b = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t)
    return b / n * 1e9


def rss():
    """Resident bytes after a full collection (like bench/idle.lua)."""
    gc.collect()
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def hwm_kib():
    """Peak RSS (VmHWM) in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def delays(n):
    """The same 0-100 ms delays, in seconds, as bench/sleepers.lua draws."""
    seed = 1
    for _ in range(n):
        seed = seed * 16807 % 2147483647
        yield seed % 100001 / 1e6
