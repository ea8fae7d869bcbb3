"""eventlet TCP echo server for bench/echo.sh: eventlet.serve, one green
thread per connection, echoes whatever recv returns.

Usage: echo_eventlet.py PORT
"""
import sys
import eventlet


def echo(sock, _addr):
    recv, sendall = sock.recv, sock.sendall
    while True:
        data = recv(65536)
        if not data:
            break
        sendall(data)


server = eventlet.listen(("127.0.0.1", int(sys.argv[1])), backlog=1024)
print("listening on 127.0.0.1:%d" % server.getsockname()[1], flush=True)
eventlet.serve(server, echo, concurrency=10000)
