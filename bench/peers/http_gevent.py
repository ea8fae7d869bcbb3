"""gevent HTTP/1.1 keep-alive hello responder for bench/http.sh, the same
minimal protocol as examples/http_hello.lua: request line and headers read
line by line, "Hello, world!" with Content-Length, Connection: close and
HTTP/1.0 honoured.  (gevent.pywsgi does far more per request.)

Usage: http_gevent.py PORT
"""
import sys
from gevent.server import StreamServer

BODY = b"Hello, world!"
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n" % len(BODY))
KEEP = HEAD + b"\r\n" + BODY
CLOSE = HEAD + b"Connection: close\r\n\r\n" + BODY


def serve(sock, _addr):
    rfile = sock.makefile("rb")
    while True:
        line = rfile.readline(8192)
        if not line:
            break
        keep = not line.rstrip().endswith(b"HTTP/1.0")
        while True:
            h = rfile.readline(8192)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.partition(b":")
            if (name.strip().lower() == b"connection"
                    and value.strip().lower() == b"close"):
                keep = False
        sock.sendall(KEEP if keep else CLOSE)
        if not keep:
            break
    rfile.close()
    sock.close()


server = StreamServer(("127.0.0.1", int(sys.argv[1])), serve, backlog=1024)
print("listening on 127.0.0.1:%d" % server.address[1], flush=True)
server.serve_forever()
