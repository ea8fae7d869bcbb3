"""gevent TCP echo server for bench/echo.sh: StreamServer, one greenlet per
connection, echoes whatever recv returns.

Usage: echo_gevent.py PORT
"""
import sys
from gevent.server import StreamServer


def echo(sock, _addr):
    recv, sendall = sock.recv, sock.sendall
    while True:
        data = recv(65536)
        if not data:
            break
        sendall(data)


server = StreamServer(("127.0.0.1", int(sys.argv[1])), echo, backlog=1024)
print("listening on 127.0.0.1:%d" % server.address[1], flush=True)
server.serve_forever()
