"""gevent: spawn+finish per greenlet, N sleepers, idle memory per parked.

Usage: py_gevent.py spawn [N] | sleepers [N] | idle [N]
"""
import sys
import time
import gevent
from gevent.event import Event
from peerlib import arg, best, rss, hwm_kib, delays


def noop():
    pass


def spawn(n, b=1000):
    # In batches of b alive at once, as bench/spawn.lua does.
    def joined():
        for _ in range(n // b):
            gevent.joinall([gevent.spawn(noop) for _ in range(b)])

    # spawn_raw is gevent's handle-less spawn, the match for lg.spawn_n;
    # sleep(0) queues the caller behind every spawned callback.
    def raw():
        for _ in range(n // b):
            for _ in range(b):
                gevent.spawn_raw(noop)
            gevent.sleep(0)
    gevent.sleep(0)                   # hub and loop exist before timing
    print("gevent.spawn+joinall %.0f ns" % best(joined, n // b * b))
    print("gevent.spawn_raw+sleep(0) %.0f ns" % best(raw, n // b * b))


def sleepers(n):
    t = time.monotonic()
    for d in delays(n):
        gevent.spawn_raw(gevent.sleep, d)
    gevent.wait()                     # until the loop has nothing left
    wall = (time.monotonic() - t) * 1000
    print("gevent.spawn_raw(gevent.sleep) %d %.0f %d" % (n, wall, hwm_kib()))


def idle(n):
    ev = Event()
    gevent.sleep(0)
    before = rss()
    for _ in range(n):
        gevent.spawn_raw(ev.wait)
    gevent.sleep(0)                   # all of them start and park
    after = rss()
    print("gevent.Event.wait %d %.0f" % (n, (after - before) / n))
    ev.set()
    gevent.wait()


mode = sys.argv[1]
{"spawn": lambda: spawn(arg(2, 10000)),
 "sleepers": lambda: sleepers(arg(2, 100000)),
 "idle": lambda: idle(arg(2, 20000))}[mode]()
