"""eventlet: spawn+finish per greenthread, N sleepers, idle memory per parked.

Usage: py_eventlet.py spawn [N] | sleepers [N] | idle [N]
"""
import sys
import time
import eventlet
from eventlet.event import Event
from peerlib import arg, best, rss, hwm_kib, delays


def noop():
    pass


def spawn(n, b=1000):
    # In batches of b alive at once, as bench/spawn.lua does.
    def waited():
        for _ in range(n // b):
            for gt in [eventlet.spawn(noop) for _ in range(b)]:
                gt.wait()

    # spawn_n has no handle, like lg.spawn_n; the hub runs due timers in
    # order, so sleep(0) comes back after every spawned one has run.
    def raw():
        for _ in range(n // b):
            for _ in range(b):
                eventlet.spawn_n(noop)
            eventlet.sleep(0)
    eventlet.sleep(0)                 # hub exists before timing
    print("eventlet.spawn+wait %.0f ns" % best(waited, n // b * b))
    print("eventlet.spawn_n+sleep(0) %.0f ns" % best(raw, n // b * b))


def sleepers(n):
    # GreenPool is eventlet's way to wait for handle-less greenthreads.
    pool = eventlet.GreenPool(n)
    t = time.monotonic()
    for d in delays(n):
        pool.spawn_n(eventlet.sleep, d)
    pool.waitall()
    wall = (time.monotonic() - t) * 1000
    print("GreenPool.spawn_n(eventlet.sleep) %d %.0f %d" % (n, wall, hwm_kib()))


def idle(n):
    ev = Event()
    eventlet.sleep(0)
    before = rss()
    for _ in range(n):
        eventlet.spawn_n(ev.wait)
    eventlet.sleep(0)                 # all of them start and park
    after = rss()
    print("eventlet.Event.wait %d %.0f" % (n, (after - before) / n))
    ev.send()
    eventlet.sleep(0)


mode = sys.argv[1]
{"spawn": lambda: spawn(arg(2, 10000)),
 "sleepers": lambda: sleepers(arg(2, 100000)),
 "idle": lambda: idle(arg(2, 20000))}[mode]()
