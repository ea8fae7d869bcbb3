/*
** echo_epoll.c — the baseline of bench/echo.sh: a plain single-threaded C
** TCP echo server on epoll, level-triggered, non-blocking sockets.  Each
** readable connection is read once (up to 64 KiB) and what came is written
** back; a short write keeps the rest and waits for EPOLLOUT.  No framing,
** no copies beyond the one buffer: what any event loop has to beat.
**
** Usage: echo_epoll PORT [HOST]   (HOST default 127.0.0.1; PORT 0: any)
** Prints "listening on HOST:PORT" once bound, then runs until killed.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)

/* One connection: what the peer sent that we could not write back yet. */
typedef struct conn {
  int fd;
  size_t off, len;		/* pending bytes buf[off .. len) */
  char buf[BUFSZ];
} conn;

static void die(const char *what)
{
  perror(what);
  exit(1);
}

static void conn_close(int ep, conn *c)
{
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

/* Write what is pending; 1 when all went, 0 when the socket is full, -1 on
** error. */
static int conn_flush(conn *c)
{
  while (c->off < c->len) {
    ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    c->off += (size_t)n;
  }
  c->off = c->len = 0;
  return 1;
}

/* Readable (or writable again): echo until read would block. */
static void conn_event(int ep, conn *c, uint32_t events)
{
  struct epoll_event ev;
  int r;
  if (c->len) {			/* EPOLLOUT: finish the pending write first */
    if ((r = conn_flush(c)) < 0) goto fail;
    if (r == 0) return;
    ev.events = EPOLLIN;	/* drained: back to reading */
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return;
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  {
    ssize_t n = read(c->fd, c->buf, BUFSZ);
    if (n == 0) goto fail;	/* peer closed */
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      goto fail;
    }
    c->off = 0;
    c->len = (size_t)n;
  }
  if ((r = conn_flush(c)) < 0) goto fail;
  if (r == 0) {			/* socket full: wait until it drains */
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  }
  return;
fail:
  conn_close(ep, c);
}

int main(int argc, char **argv)
{
  const char *host = argc > 2 ? argv[2] : "127.0.0.1";
  struct sockaddr_in sa;
  socklen_t salen = sizeof sa;
  struct epoll_event ev, evs[256];
  int one = 1, lfd, ep;

  if (argc < 2) {
    fprintf(stderr, "usage: echo_epoll PORT [HOST]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[1]));
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "echo_epoll: bad IPv4 address '%s'\n", host);
    return 2;
  }
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  if (listen(lfd, 1024) < 0) die("listen");
  getsockname(lfd, (struct sockaddr *)&sa, &salen);
  printf("listening on %s:%d\n", host, ntohs(sa.sin_port));
  fflush(stdout);

  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1");
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;		/* NULL marks the listening socket */
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");

  for (;;) {
    int i, n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (c) {
        conn_event(ep, c, evs[i].events);
        continue;
      }
      for (;;) {		/* accept every pending connection */
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!(c = malloc(sizeof *c))) die("malloc");
        c->fd = fd;
        c->off = c->len = 0;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
      }
    }
  }
}
