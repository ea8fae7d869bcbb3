"""Python greenlet: one-way switch, create+switch, idle memory per parked.

Usage: py_greenlet.py switch [N] | spawn [N] | idle [N]
"""
import sys
from greenlet import greenlet, getcurrent
from peerlib import arg, best, rss


def switch(n):
    # Two greenlets ping-pong n times; each round trip is two one-way
    # switches, as in bench/switch.lua.
    def pingpong(value):
        def a():
            x = 0
            for _ in range(n):
                x = b.switch(x) if value else b.switch()

        def bf(x=None):
            while True:
                x = ga.switch(x + 1) if value else ga.switch()

        def run():
            nonlocal b, ga
            b, ga = greenlet(bf), greenlet(a)
            ga.switch()       # back here when a() finishes
        b = ga = None
        return run

    print("greenlet.switch() %.1f" % (best(pingpong(False), 2 * n)))
    print("greenlet.switch(x)->x %.1f" % (best(pingpong(True), 2 * n)))


def spawn(n):
    def noop():
        pass

    def run():
        for _ in range(n):
            greenlet(noop).switch()
    print("greenlet(fn).switch() %.0f ns" % best(run, n))


def idle(n):
    main = getcurrent()
    greenlet(main.switch).switch()    # warm up greenlet's own state
    before = rss()
    parked = [greenlet(main.switch) for _ in range(n)]
    for g in parked:
        g.switch()                    # starts, switches back: parked
    after = rss()
    print("greenlet:parent.switch() %d %.0f" % (n, (after - before) / n))


mode = sys.argv[1]
{"switch": lambda: switch(arg(2, 200000)),
 "spawn": lambda: spawn(arg(2, 20000)),
 "idle": lambda: idle(arg(2, 20000))}[mode]()
