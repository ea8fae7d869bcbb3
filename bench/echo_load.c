/*
** echo_load.c — load generator of bench/echo.sh.  N connections (default
** 100), each a closed loop: send one SIZE-byte message (default 64), wait
** for all SIZE bytes to come back, check them, send the next.  One thread
** on epoll; after a warm-up it counts the messages echoed during a fixed
** time and prints the rate.
**
** A message is SIZE-1 letters and a LF.
** Usage: echo_load PORT [CONNS] [SECONDS] [WARMUP] [SIZE] [HOST]
** Prints one line: "echo <rate> msg/s <total> msgs (details)", the total
** including the warm-up's messages; exits non-zero if
** a connection failed, closed or echoed the wrong bytes.
** The server gets up to 5 s to start listening (connect is retried).
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
#include <time.h>
#include <unistd.h>

#define MAXSIZE 4096

typedef struct conn {
  int fd;
  unsigned seq;			/* number of the message in flight */
  size_t got;			/* bytes of its echo received */
  char msg[MAXSIZE];		/* the message in flight */
  char buf[MAXSIZE];		/* its echo so far */
} conn;

static size_t size = 64;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fail(const char *what, int i)
{
  fprintf(stderr, "echo_load: connection %d: %s\n", i, what);
  exit(1);
}

/* Connect, retrying while the server is not listening yet. */
static int dial(const struct sockaddr_in *sa)
{
  double give_up = now() + 5;
  int one = 1;
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(strerror(errno), -1);
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0) {
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;		/* blocking: a message fits the socket buffer */
    }
    close(fd);
    if (errno != ECONNREFUSED || now() > give_up) fail(strerror(errno), -1);
    usleep(20000);
  }
}

/* Send the next message: letters that name the connection and the
** sequence, so an echo that mixes connections or messages is caught, and a
** final LF, so line-based echo servers serve it too. */
static void conn_send(conn *c, int i)
{
  size_t k;
  ssize_t n;
  c->seq++;
  for (k = 0; k + 1 < size; k++)
    c->msg[k] = (char)('a' + (i * 31 + c->seq * 7 + k) % 26);
  c->msg[size - 1] = '\n';
  c->got = 0;
  n = send(c->fd, c->msg, size, MSG_NOSIGNAL);
  if (n != (ssize_t)size) fail(n < 0 ? strerror(errno) : "short send", i);
}

int main(int argc, char **argv)
{
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int nconn = argc > 2 ? atoi(argv[2]) : 100;
  double secs = argc > 3 ? atof(argv[3]) : 5;
  double warm = argc > 4 ? atof(argv[4]) : 1;
  const char *host = argc > 6 ? argv[6] : "127.0.0.1";
  struct sockaddr_in sa;
  struct epoll_event ev, evs[256];
  conn *cs;
  long counted = 0, total = 0;
  double t0, start, stop;
  int i, ep, counting = 0;

  if (argc > 5) size = (size_t)atoi(argv[5]);
  if (port <= 0 || nconn <= 0 || secs <= 0 || size == 0 || size > MAXSIZE) {
    fprintf(stderr, "usage: echo_load PORT [CONNS] [SECONDS] [WARMUP] "
            "[SIZE<=%d] [HOST]\n", MAXSIZE);
    return 2;
  }
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) fail("bad IPv4 address", -1);
  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) fail(strerror(errno), -1);
  if (!(cs = calloc((size_t)nconn, sizeof *cs))) fail("out of memory", -1);

  /* All connections first, then the first messages: none gets a head start
  ** while the server is still accepting. */
  for (i = 0; i < nconn; i++) {
    cs[i].fd = dial(&sa);
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t)i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0) fail(strerror(errno), i);
  }
  for (i = 0; i < nconn; i++) conn_send(&cs[i], i);

  t0 = now();
  start = t0 + warm;
  stop = start + secs;
  for (;;) {
    double t = now();
    int n;
    if (!counting && t >= start) {	/* warm-up over: count from here */
      counting = 1;
      start = t;
      stop = t + secs;
    }
    if (counting && t >= stop) break;
    n = epoll_wait(ep, evs, 256, 100);
    if (n < 0 && errno != EINTR) fail(strerror(errno), -1);
    while (n-- > 0) {
      conn *c = &cs[evs[n].data.u32];
      ssize_t r = recv(c->fd, c->buf + c->got, size - c->got, MSG_DONTWAIT);
      if (r == 0) fail("closed by the server", (int)evs[n].data.u32);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        fail(strerror(errno), (int)evs[n].data.u32);
      }
      c->got += (size_t)r;
      if (c->got < size) continue;
      if (memcmp(c->buf, c->msg, size) != 0)
        fail("echo differs from the message", (int)evs[n].data.u32);
      counted += counting;
      total++;
      conn_send(c, (int)evs[n].data.u32);
    }
  }
  stop = now();
  printf("echo %.0f msg/s %ld msgs (%d connections, %zu-byte messages, "
         "%.1f s after %.1f s warm-up)\n", counted / (stop - start), total,
         nconn, size, stop - start, warm);
  for (i = 0; i < nconn; i++) close(cs[i].fd);
  return 0;
}
