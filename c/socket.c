/*
** socket.c — core.socket: green sockets with LuaSocket's behaviour.
**
** A socket is a userdata holding a non-blocking fd and LuaSocket's 8 KiB
** receive buffer.  Every call that would block parks only the calling
** greenlet (lg_hub_wait_io) and retries.  Waits follow LuaSocket's
** settimeout: "b" bounds each wait, "t" the whole call.  The Lua façade
** (lua/lgreen/socket.lua) adds name resolution and the LuaSocket names; the
** hot methods (receive, send) are these C functions themselves.
**
** close() from another greenthread wakes whoever waits on the socket (its
** call returns nil, "closed"), so no ev_io outlives its fd.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib.h"

#define LG_SOCK_META	"lgreen.socket"
#define LG_SOCK_BUF	8192		/* LuaSocket's BUF_SIZE */
#define LG_RX_MIN	256		/* first size of a receive's accumulator */
#define LG_ACCEPT_BACKOFF_MAX 1.0	/* seconds between accepts at EMFILE */

/* lg_sock.kind: what LuaSocket calls the object's class */
enum { LG_K_MASTER, LG_K_CLIENT, LG_K_SERVER, LG_K_CLOSED };
/* io results besides 0 (done) and errno values */
enum { LG_IO_TIMEOUT = -1, LG_IO_CLOSED = -2, LG_IO_RAISE = -3 };

typedef struct lg_sock {
  int fd;			/* -1: none yet (master), closed or detached */
  int family;			/* AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC (lazy) */
  int type;			/* SOCK_STREAM or SOCK_DGRAM */
  unsigned char kind;		/* LG_K_x */
  unsigned char pipe;		/* a wrapped fd: read/write, not recv/send */
  unsigned char connected;	/* udp: has a peer */
  unsigned char drained;	/* the last read left nothing: wait first */
  double block;			/* "b" timeout: each wait; < 0 none */
  double total;			/* "t" timeout: the whole call; < 0 none */
  ev_io rio, wio;		/* watchers for fd, set up once per fd */
  int iofd;			/* the fd rio and wio are set up for, or -1 */
  ev_io *rwait, *wwait;		/* rio or wio while a greenlet waits on it */
  double birth;			/* hub time at creation, for getstats */
  double nrecv, nsent;		/* bytes, for getstats */
  size_t first, last;		/* unread bytes: buf[first, last) */
  char buf[LG_SOCK_BUF];
} lg_sock;

/* -- Objects -------------------------------------------------------------- */

/* The functions of core.socket have the metatable of sockets as upvalue 2:
** cheaper than luaL_checkudata's registry lookup on every receive/send. */
static lg_sock *sock_check(lua_State *L, int idx)
{
  void *p = lua_touserdata(L, idx);
  if (LG_LIKELY(p != NULL && lua_getmetatable(L, idx))) {	/* mt */
    int same = lua_rawequal(L, -1, lua_upvalueindex(2));
    lua_pop(L, 1);
    if (LG_LIKELY(same)) return (lg_sock *)p;
  }
  luaL_argerror(L, idx, lua_pushfstring(L, "socket expected, got %s",
					luaL_typename(L, idx)));
  return NULL;
}

/* Push a new socket object. */
static lg_sock *sock_push(lua_State *L, int family, int type, int fd, int kind)
{
  lg_sock *s = (lg_sock *)lua_newuserdata(L, sizeof(lg_sock));	/* s */
  memset(s, 0, offsetof(lg_sock, buf));
  s->fd = fd;
  s->family = family;
  s->type = type;
  s->kind = (unsigned char)kind;
  s->block = s->total = -1;
  s->iofd = -1;
  luaL_getmetatable(L, LG_SOCK_META);				/* s mt */
  lua_setmetatable(L, -2);					/* s */
  return s;
}

static int sock_setnonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Give the socket its fd, of the given family. */
static int sock_open(lg_sock *s, int family)
{
  int fd = socket(family, s->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  if (family == AF_INET6) {	/* LuaSocket: IPv6 sockets are v6-only */
    int on = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  }
  s->fd = fd;
  s->family = family;
  return 0;
}

/* -- Errors, in LuaSocket's words ----------------------------------------- */

static const char *sock_strerror(int err)
{
  switch (err) {
  case 0: return NULL;
  case LG_IO_TIMEOUT: return "timeout";
  case LG_IO_CLOSED: return "closed";
  case EADDRINUSE: return "address already in use";
  case EISCONN: return "already connected";
  case EACCES: return "permission denied";
  case ECONNREFUSED: return "connection refused";
  case ECONNABORTED: case ECONNRESET: case EPIPE: return "closed";
  case ETIMEDOUT: return "timeout";
  default: return strerror(err);
  }
}

/* The usual failure return: nil, "timeout" | "closed" for our own
** outcomes; for an OS error nil, LuaSocket's message, errno name (nil,
** "connection refused", "ECONNREFUSED": lg_lib_fail's convention, with
** the words patched libraries compare). */
static int sock_fail(lua_State *L, int err)
{
  if (err > 0) return lg_lib_failmsg(L, sock_strerror(err), err);
  lua_pushnil(L);
  lua_pushstring(L, sock_strerror(err));
  return 2;
}

/* -- Waiting -------------------------------------------------------------- */

/* A call's deadline (hub time), or -1; from the "t" timeout. */
static double sock_deadline(lg_hub *hub, lg_sock *s)
{
  return s->total < 0 ? -1 : ev_now(hub->loop) + s->total;
}

/* Park until fd is ready for events.  0 when ready, LG_IO_TIMEOUT,
** LG_IO_CLOSED (closed while we waited), or LG_IO_RAISE with the error on
** top of L (the caller returns lg_greenlet_raise(L) at once).  Values the
** wake left on L are popped: callers keep partial data on the stack. */
static int sock_wait(lua_State *L, lg_hub *hub, lg_sock *s, int events,
		     double deadline)
{
  double t = s->block;
  ev_io **slot = events == EV_READ ? &s->rwait : &s->wwait;
  ev_io *w = events == EV_READ ? &s->rio : &s->wio;
  int top = lua_gettop(L), r;
  if (deadline >= 0) {
    double left = deadline - ev_time();
    if (left < 0) left = 0;
    if (t < 0 || left < t) t = left;
  }
  if (t == 0) return LG_IO_TIMEOUT;	/* settimeout(0): never park */
  if (*slot != NULL)
    return luaL_error(L, "socket is already %s by another greenthread",
		      events == EV_READ ? "being read" : "being written");
  lg_greenlet_checksafe(L, hub->vm);	/* refused: leave *slot alone */
  if (s->iofd != s->fd) {		/* a new fd: (re)set both watchers */
    ev_io_init(&s->rio, lg_hub_io_cb, s->fd, EV_READ);
    ev_io_init(&s->wio, lg_hub_io_cb, s->fd, EV_WRITE);
    s->iofd = s->fd;
  }
  *slot = w;
  r = lg_hub_wait_ev(L, hub, w, t);
  *slot = NULL;
  if (r < 0) return LG_IO_RAISE;
  r = lua_toboolean(L, -r);		/* the first of r values: true or false */
  lua_settop(L, top);
  lg_greenlet_resync(L);		/* callers go on allocating, may raise */
  if (s->fd < 0) return LG_IO_CLOSED;
  return r ? 0 : LG_IO_TIMEOUT;
}

/* Wake the greenlets waiting on s (before its fd goes away). */
static void sock_wakeall(lg_hub *hub, lg_sock *s)
{
  if (hub == NULL || hub->loop == NULL) return;
  if (s->rwait) ev_invoke(hub->loop, s->rwait, EV_CUSTOM);
  if (s->wwait) ev_invoke(hub->loop, s->wwait, EV_CUSTOM);
}

/* -- Raw transfers: 0 or an errno / LG_IO_x value --------------------------- */

static int sock_read(lg_sock *s, char *p, size_t n, size_t *got)
{
  for (;;) {
    ssize_t k = s->pipe ? read(s->fd, p, n) : recv(s->fd, p, n, 0);
    if (k > 0) {
      *got = (size_t)k;
      s->nrecv += (double)k;
      s->drained = (size_t)k < n;
      return 0;
    }
    if (k == 0) return LG_IO_CLOSED;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? EAGAIN : errno;
  }
}

static int sock_write(lg_sock *s, const char *p, size_t n, size_t *put)
{
  for (;;) {
    ssize_t k = s->pipe ? write(s->fd, p, n) : send(s->fd, p, n, MSG_NOSIGNAL);
    if (k >= 0) {
      *put = (size_t)k;
      s->nsent += (double)k;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EPIPE) return LG_IO_CLOSED;
    return errno == EWOULDBLOCK ? EAGAIN : errno;
  }
}

/* Read at most n bytes into p, parking while nothing has arrived. */
static int sock_fillto(lua_State *L, lg_hub *hub, lg_sock *s, char *p, size_t n,
		       size_t *got, double deadline)
{
  for (;;) {
    int err;
    if (s->fd < 0) return LG_IO_CLOSED;
    /* A short read emptied the kernel's queue: recv now would only say
    ** EAGAIN, so wait first (the loop is level-triggered: bytes that came
    ** meanwhile wake us at once).  Not with a zero timeout: that never
    ** parks, so it must try. */
    if (s->drained && s->block != 0 && s->total != 0) {
      s->drained = 0;
      if ((err = sock_wait(L, hub, s, EV_READ, deadline)) != 0) return err;
      continue;
    }
    err = sock_read(s, p, n, got);
    if (err != EAGAIN) return err;
    s->drained = 0;
    if ((err = sock_wait(L, hub, s, EV_READ, deadline)) != 0) return err;
  }
}

/* Refill the buffer (it is empty). */
static int sock_fill(lua_State *L, lg_hub *hub, lg_sock *s, double deadline)
{
  size_t got = 0;
  int err = sock_fillto(L, hub, s, s->buf, LG_SOCK_BUF, &got, deadline);
  if (err == 0) {
    s->first = 0;
    s->last = got;
  }
  return err;
}

/* -- receive -------------------------------------------------------------- */

/* What a receive has gathered: n bytes at p, in a userdata of cap bytes at
** index idx of L.  A wait may switch away, so no luaL_Buffer; the userdata
** is anchored there and grows by doubling, so a receive copies each byte a
** bounded number of times whatever the size (joining strings on the stack
** copied the whole result again every few reads: quadratic). */
typedef struct rx_acc {
  char *p;
  size_t n, cap;
  int idx;
} rx_acc;

/* Make room for at least need more bytes, the capacity at most limit (or
** more if need asks more).  Returns where the next byte goes. */
static char *rx_room(lua_State *L, rx_acc *a, size_t need, size_t limit)
{
  size_t cap;
  char *p;
  if (a->cap - a->n >= need) return a->p + a->n;
  cap = a->cap < LG_RX_MIN ? LG_RX_MIN : a->cap;
  while (cap - a->n < need) cap *= 2;
  if (cap > limit) cap = limit;
  if (cap - a->n < need) cap = a->n + need;
  p = (char *)lua_newuserdata(L, cap);			/* .. new */
  if (a->n) memcpy(p, a->p, a->n);
  lua_replace(L, a->idx);				/* .. */
  a->p = p;
  a->cap = cap;
  return p + a->n;
}

static void rx_add(lua_State *L, rx_acc *a, const char *p, size_t n, size_t limit)
{
  if (n == 0) return;
  memcpy(rx_room(L, a, n, limit), p, n);
  a->n += n;
}

/* Read from the socket straight into a: at most want bytes, at least one. */
static int rx_direct(lua_State *L, lg_hub *hub, lg_sock *s, rx_acc *a,
		     size_t want, size_t limit, double deadline)
{
  size_t got = 0, room;
  char *p = rx_room(L, a, LG_SOCK_BUF < want ? LG_SOCK_BUF : want, limit);
  int err;
  room = a->cap - a->n;
  err = sock_fillto(L, hub, s, p, room < want ? room : want, &got, deadline);
  if (err == 0) a->n += got;
  return err;
}

/* Exactly want bytes.  What the buffer holds goes first; then large
** remainders are read in place, a small one through the buffer (what
** comes after it stays there for the next call, as in LuaSocket). */
static int rx_count(lua_State *L, lg_hub *hub, lg_sock *s, rx_acc *a,
		    size_t want, double deadline)
{
  size_t limit = a->n + want;		/* the result never needs more */
  for (;;) {
    size_t n = s->last - s->first;
    int err;
    if (n > want) n = want;
    rx_add(L, a, s->buf + s->first, n, limit);
    s->first += n;
    want -= n;
    if (want == 0) return 0;
    if (want >= LG_SOCK_BUF) {
      size_t before = a->n;
      err = rx_direct(L, hub, s, a, want, limit, deadline);
      want -= a->n - before;
    } else {
      err = sock_fill(L, hub, s, deadline);
    }
    if (err != 0) return err;
    if (want == 0) return 0;
  }
}

/* A line ending in LF; CRs are dropped, as LuaSocket does. */
static int rx_line(lua_State *L, lg_hub *hub, lg_sock *s, rx_acc *a, double deadline)
{
  for (;;) {
    const char *p = s->buf + s->first, *e = s->buf + s->last;
    const char *lf = memchr(p, '\n', (size_t)(e - p));
    const char *end = lf ? lf : e;
    int err;
    while (p < end) {			/* add the run up to each CR */
      const char *cr = memchr(p, '\r', (size_t)(end - p));
      const char *q = cr ? cr : end;
      rx_add(L, a, p, (size_t)(q - p), (size_t)-1);
      p = cr ? cr + 1 : end;
    }
    if (lf) {
      s->first = (size_t)(lf + 1 - s->buf);
      return 0;
    }
    s->first = s->last = 0;
    if ((err = sock_fill(L, hub, s, deadline)) != 0) return err;
  }
}

/* Everything until the peer closes: closing is success here, unless it
** gave nothing at all: then nil, "closed", as LuaSocket says (a loop that
** reads until "closed" would otherwise spin on "" forever). */
static int rx_all(lua_State *L, lg_hub *hub, lg_sock *s, rx_acc *a, double deadline)
{
  size_t start = a->n;			/* after the prefix */
  int err;
  rx_add(L, a, s->buf + s->first, s->last - s->first, (size_t)-1);
  s->first = s->last = 0;
  do err = rx_direct(L, hub, s, a, (size_t)-1, (size_t)-1, deadline);
  while (err == 0);
  if (err == LG_IO_CLOSED && a->n > start) return 0;
  return err;
}

/* One datagram (udp), at most want bytes. */
static int rx_dgram(lua_State *L, lg_hub *hub, lg_sock *s, size_t want,
		    double deadline, struct sockaddr_storage *from)
{
  for (;;) {
    socklen_t len = sizeof(*from);
    char small[LG_SOCK_BUF], *p = small;
    ssize_t k;
    int err;
    if (want > sizeof(small)) p = lua_newuserdata(L, want);	/* [ud] */
    k = recvfrom(s->fd, p, want, 0, (struct sockaddr *)from, &len);
    if (k >= 0) {
      s->nrecv += (double)k;
      lua_pushlstring(L, p, (size_t)k);			/* [ud] data */
      if (p != small) lua_remove(L, -2);		/* data */
      return 0;
    }
    if (p != small) lua_pop(L, 1);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    if ((err = sock_wait(L, hub, s, EV_READ, deadline)) != 0) return err;
  }
}

/* The common case of a small receive without a prefix: the whole answer
** is in the buffer already; push it from there (no accumulator).  A count
** (want) or, with want == (size_t)-1, a line: at most its final CR to drop.
** 1 if done. */
static int rx_fast(lua_State *L, lg_sock *s, size_t want)
{
  const char *p = s->buf + s->first, *lf, *end;
  size_t have = s->last - s->first;
  if (want != (size_t)-1) {
    if (have < want || have == 0) return 0;	/* receive(0) waits for data */
    lua_pushlstring(L, p, want);
    s->first += want;
    return 1;
  }
  if ((lf = memchr(p, '\n', have)) == NULL) return 0;
  end = lf > p && lf[-1] == '\r' ? lf - 1 : lf;
  if (memchr(p, '\r', (size_t)(end - p)) != NULL) return 0;
  lua_pushlstring(L, p, (size_t)(end - p));
  s->first = (size_t)(lf + 1 - s->buf);
  return 1;
}

/* receive([pattern [, prefix]]) -> data | nil, err, partial */
static int sock_receive(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_sock *s = sock_check(L, 1);
  rx_acc a = { NULL, 0, 0, 4 };
  double deadline;
  int err;
  lua_settop(L, 3);
  if (s->type == SOCK_DGRAM && s->fd >= 0) goto dgram;
  if (s->fd < 0 || s->kind != LG_K_CLIENT) return sock_fail(L, LG_IO_CLOSED);
  deadline = sock_deadline(hub, s);
  lua_pushnil(L);				/* pattern prefix acc */
  if (!lua_isnil(L, 3)) {
    size_t n;
    const char *p = luaL_checklstring(L, 3, &n);
    rx_add(L, &a, p, n, (size_t)-1);
  }
  if (lua_isnumber(L, 2)) {	/* "10" too, as LuaSocket (lua_isnumber) */
    lua_Number n = lua_tonumber(L, 2);
    if (!(n >= 0) || n > 1e15) luaL_argerror(L, 2, "invalid receive pattern");
    /* As LuaSocket 3: n counts the prefix; receive(0) returns "" once
    ** something is there to read (nil, "closed" after the peer closed). */
    if (a.n == 0 && rx_fast(L, s, (size_t)n)) return 1;
    if (a.n > 0 && (size_t)n <= a.n) err = 0;
    else if (n == 0) err = s->first < s->last ? 0 : sock_fill(L, hub, s, deadline);
    else err = rx_count(L, hub, s, &a, (size_t)n - a.n, deadline);
  } else {
    /* LuaSocket 3.1 reads only the letter after the '*' ("*line" and
    ** "*all" work there); bare "l" and "a" are ours, exactly those. */
    const char *p = luaL_optstring(L, 2, "*l");
    int kind = p[0] == '*' ? p[1] : p[0] != 0 && p[1] == 0 ? p[0] : 0;
    if (kind == 'l' && lua_isnil(L, 3) && rx_fast(L, s, (size_t)-1))
      return 1;
    if (kind == 'l') err = rx_line(L, hub, s, &a, deadline);
    else if (kind == 'a') err = rx_all(L, hub, s, &a, deadline);
    else return luaL_argerror(L, 2, "invalid receive pattern");
  }
  if (err == LG_IO_RAISE) return lg_greenlet_raise(L);
  lua_pushlstring(L, a.n ? a.p : "", a.n);		/* .. acc data */
  if (err == 0) return 1;
  lua_pushnil(L);					/* data nil */
  lua_pushstring(L, sock_strerror(err));		/* data nil err */
  lua_pushvalue(L, -3);					/* data nil err data */
  return 3;
dgram:
  {
    struct sockaddr_storage from;
    lua_Number n = luaL_optnumber(L, 2, 8192);
    if (!(n >= 0) || n > 65536) luaL_argerror(L, 2, "invalid receive size");
    err = rx_dgram(L, hub, s, (size_t)n, sock_deadline(hub, s), &from);
    if (err == LG_IO_RAISE) return lg_greenlet_raise(L);
    return err ? sock_fail(L, err) : 1;
  }
}

/* -- send ----------------------------------------------------------------- */

/* send(data [, i [, j]]) -> last | nil, err, last (LuaSocket's indices) */
static int sock_send(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_sock *s = sock_check(L, 1);
  size_t len, done = 0;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Number i = luaL_optnumber(L, 3, 1), j = luaL_optnumber(L, 4, -1);
  double deadline;
  int err = 0;
  if (i < 0) i = (lua_Number)len + i + 1;
  if (i < 1) i = 1;
  if (j < 0) j = (lua_Number)len + j + 1;
  if (j > (lua_Number)len) j = (lua_Number)len;
  lua_settop(L, 4);
  if (s->fd < 0 || (s->kind != LG_K_CLIENT && s->type == SOCK_STREAM))
    err = LG_IO_CLOSED;		/* nil, "closed", i - 1: LuaSocket's */
  else if (i <= j) {
    const char *p = data + (size_t)i - 1;
    size_t n = (size_t)(j - i + 1);
    deadline = sock_deadline(hub, s);
    while (done < n) {
      size_t put = 0;
      if (s->fd < 0) { err = LG_IO_CLOSED; break; }
      err = sock_write(s, p + done, n - done, &put);
      if (err == 0) { done += put; continue; }
      if (err != EAGAIN) break;
      if ((err = sock_wait(L, hub, s, EV_WRITE, deadline)) != 0) break;
    }
    if (err == LG_IO_RAISE) return lg_greenlet_raise(L);
  }
  if (i > j) i = j + 1;
  if (err == 0) {
    lua_pushnumber(L, i + (lua_Number)done - 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, sock_strerror(err));
  lua_pushnumber(L, i + (lua_Number)done - 1);
  return 3;
}

/* -- Addresses ------------------------------------------------------------ */

/* Fill sa from a numeric address (or a path for AF_UNIX).  0 or an errno. */
static int sock_addr(lua_State *L, int family, int idx, struct sockaddr_storage *sa,
		     socklen_t *len)
{
  memset(sa, 0, sizeof(*sa));
  if (family == AF_UNIX) {
    size_t n;
    const char *path = luaL_checklstring(L, idx, &n);
    struct sockaddr_un *su = (struct sockaddr_un *)sa;
    if (n >= sizeof(su->sun_path)) luaL_argerror(L, idx, "path too long");
    su->sun_family = AF_UNIX;
    memcpy(su->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
  } else {
    const char *ip = luaL_checkstring(L, idx);
    lua_Number port = luaL_checknumber(L, idx + 1);
    if (port < 0 || port > 65535 || port != (lua_Number)(int)port)
      luaL_argerror(L, idx + 1, "port must be an integer from 0 to 65535");
    if (family == AF_INET) {
      struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
      s4->sin_family = AF_INET;
      s4->sin_port = htons((unsigned short)port);
      if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1) return EINVAL;
      *len = sizeof(*s4);
    } else {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons((unsigned short)port);
      if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1) return EINVAL;
      *len = sizeof(*s6);
    }
    return 0;
  }
}

/* Push what LuaSocket's getpeername/getsockname return: ip, port, family
** (or the path for a Unix socket). */
static int sock_pushaddr(lua_State *L, const struct sockaddr_storage *sa)
{
  char ip[INET6_ADDRSTRLEN];
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    lua_pushstring(L, ip);
    lua_pushinteger(L, ntohs(s4->sin_port));
    lua_pushliteral(L, "inet");
    return 3;
  }
  if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
    lua_pushstring(L, ip);
    lua_pushinteger(L, ntohs(s6->sin6_port));
    lua_pushliteral(L, "inet6");
    return 3;
  }
  if (sa->ss_family == AF_UNIX) {
    lua_pushstring(L, ((const struct sockaddr_un *)sa)->sun_path);
    return 1;
  }
  lua_pushnil(L);
  lua_pushliteral(L, "unknown family");
  return 2;
}

static int family_of(const char *name)
{
  if (!strcmp(name, "inet")) return AF_INET;
  if (!strcmp(name, "inet6")) return AF_INET6;
  if (!strcmp(name, "unix")) return AF_UNIX;
  return -1;
}

/* Make sure s has an fd of family (a lazy master, or a failed connect
** attempt of another family).  0 or an errno. */
static int sock_ensure(lg_sock *s, int family)
{
  if (s->fd >= 0 && s->family == family) return 0;
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  return sock_open(s, family);
}

/* -- connect, bind, listen, accept ----------------------------------------- */

/* connect(s, family, ip, port) or connect(s, "unix", path) -> 1 | nil, err */
static int sock_connect(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_sock *s = sock_check(L, 1);
  int family = family_of(luaL_checkstring(L, 2)), err;
  struct sockaddr_storage sa;
  socklen_t len;
  double deadline;
  if (family < 0) luaL_argerror(L, 2, "\"inet\", \"inet6\" or \"unix\" expected");
  if (s->kind == LG_K_CLOSED) return sock_fail(L, LG_IO_CLOSED);
  if (s->kind != LG_K_MASTER && s->type == SOCK_STREAM)
    return sock_fail(L, EISCONN);
  if ((err = sock_addr(L, family, 3, &sa, &len)) != 0) return sock_fail(L, err);
  if (s->type == SOCK_DGRAM && s->fd >= 0 && s->family != family)
    return sock_fail(L, EAFNOSUPPORT);
  if ((err = sock_ensure(s, family)) != 0) return sock_fail(L, err);
  deadline = sock_deadline(hub, s);
  lua_settop(L, 1);
  while (connect(s->fd, (struct sockaddr *)&sa, len) < 0) {
    socklen_t elen = sizeof(err);
    if (errno == EINTR) continue;
    if (errno != EINPROGRESS) return sock_fail(L, errno);
    err = sock_wait(L, hub, s, EV_WRITE, deadline);
    if (err == LG_IO_RAISE) return lg_greenlet_raise(L);
    if (err != 0) return sock_fail(L, err);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) err = errno;
    if (err != 0) return sock_fail(L, err);
    break;
  }
  if (s->type == SOCK_STREAM) s->kind = LG_K_CLIENT;
  else s->connected = 1;
  lua_pushinteger(L, 1);
  return 1;
}

/* bind(s, family, ip, port) or bind(s, "unix", path) -> 1 | nil, err */
static int sock_bind(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  int family = family_of(luaL_checkstring(L, 2)), err;
  struct sockaddr_storage sa;
  socklen_t len;
  if (family < 0) luaL_argerror(L, 2, "\"inet\", \"inet6\" or \"unix\" expected");
  if (s->kind == LG_K_CLOSED) return sock_fail(L, LG_IO_CLOSED);
  if ((err = sock_addr(L, family, 3, &sa, &len)) != 0) return sock_fail(L, err);
  if (s->fd >= 0 && s->family != family) return sock_fail(L, EAFNOSUPPORT);
  if ((err = sock_ensure(s, family)) != 0) return sock_fail(L, err);
  if (bind(s->fd, (struct sockaddr *)&sa, len) < 0) return sock_fail(L, errno);
  lua_pushinteger(L, 1);
  return 1;
}

/* listen(s [, backlog]) -> 1 | nil, err */
static int sock_listen(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  int backlog = (int)luaL_optinteger(L, 2, 32), err;
  if (s->kind != LG_K_MASTER || s->type != SOCK_STREAM)
    return sock_fail(L, s->kind == LG_K_CLOSED ? LG_IO_CLOSED : EISCONN);
  if (s->fd < 0 && (err = sock_open(s, AF_INET)) != 0) return sock_fail(L, err);
  if (listen(s->fd, backlog) < 0) return sock_fail(L, errno);
  s->kind = LG_K_SERVER;
  lua_pushinteger(L, 1);
  return 1;
}

/* The process is out of fds: wait, doubling up to a second, without
** polling the listening fd (it stays readable).  The "b" timeout bounds
** the time spent so (*spent) as it bounds any wait, "t" the whole call.
** 0 or LG_IO_x. */
static int accept_backoff(lua_State *L, lg_hub *hub, lg_sock *s, double *pause,
			  double *spent, double deadline)
{
  double t = *pause;
  int top = lua_gettop(L), r;
  if (s->block >= 0 && s->block - *spent < t) t = s->block - *spent;
  if (deadline >= 0 && deadline - ev_time() < t) t = deadline - ev_time();
  if (t <= 0) return LG_IO_TIMEOUT;
  r = lg_hub_park(L, hub, t);
  if (r < 0) return LG_IO_RAISE;
  *spent += t;
  lua_settop(L, top);
  *pause = *pause * 2 > LG_ACCEPT_BACKOFF_MAX ? LG_ACCEPT_BACKOFF_MAX : *pause * 2;
  return 0;
}

/* accept(server) -> client | nil, err */
static int sock_accept(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_sock *s = sock_check(L, 1), *c;
  double deadline, pause = 0.01, spent = 0;
  if (s->kind != LG_K_SERVER || s->fd < 0) return sock_fail(L, LG_IO_CLOSED);
  deadline = sock_deadline(hub, s);
  lua_settop(L, 1);
  for (;;) {
    int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), err;
    if (fd >= 0) {
      c = sock_push(L, s->family, SOCK_STREAM, fd, LG_K_CLIENT);
      c->birth = ev_now(hub->loop);	/* no timeout, as in LuaSocket */
      return 1;
    }
    err = errno;
    if (err == EINTR || err == ECONNABORTED) continue;
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
      err = accept_backoff(L, hub, s, &pause, &spent, deadline);
    else if (err == EAGAIN || err == EWOULDBLOCK)
      err = sock_wait(L, hub, s, EV_READ, deadline);
    if (err == LG_IO_RAISE) return lg_greenlet_raise(L);
    if (err != 0) return sock_fail(L, err);
    if (s->fd < 0) return sock_fail(L, LG_IO_CLOSED);
  }
}

/* -- UDP ------------------------------------------------------------------ */

/* sendto(s, data, family, ip, port) -> bytes | nil, err */
static int sock_sendto(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_sock *s = sock_check(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int family = family_of(luaL_checkstring(L, 3)), err;
  struct sockaddr_storage sa;
  socklen_t salen;
  double deadline;
  if (family < 0 || family == AF_UNIX)
    luaL_argerror(L, 3, "\"inet\" or \"inet6\" expected");
  if (s->type != SOCK_DGRAM) luaL_argerror(L, 1, "udp socket expected");
  if (s->kind == LG_K_CLOSED) return sock_fail(L, LG_IO_CLOSED);
  if (s->connected) return sock_fail(L, EISCONN);
  if ((err = sock_addr(L, family, 4, &sa, &salen)) != 0)
    return sock_fail(L, err);
  if (s->fd >= 0 && s->family != family) return sock_fail(L, EAFNOSUPPORT);
  if ((err = sock_ensure(s, family)) != 0) return sock_fail(L, err);
  deadline = sock_deadline(hub, s);
  lua_settop(L, 2);
  for (;;) {
    ssize_t k = sendto(s->fd, data, len, 0, (struct sockaddr *)&sa, salen);
    if (k >= 0) {
      s->nsent += (double)k;
      lua_pushinteger(L, (lua_Integer)k);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return sock_fail(L, errno);
    err = sock_wait(L, hub, s, EV_WRITE, deadline);
    if (err == LG_IO_RAISE) return lg_greenlet_raise(L);
    if (err != 0) return sock_fail(L, err);
  }
}

/* receivefrom(s [, size]) -> data, ip, port | nil, err */
static int sock_receivefrom(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_sock *s = sock_check(L, 1);
  lua_Number n = luaL_optnumber(L, 2, 8192);
  struct sockaddr_storage from;
  int err;
  if (s->type != SOCK_DGRAM) luaL_argerror(L, 1, "udp socket expected");
  if (!(n >= 0) || n > 65536) luaL_argerror(L, 2, "invalid receive size");
  if (s->fd < 0) return sock_fail(L, LG_IO_CLOSED);
  lua_settop(L, 1);
  err = rx_dgram(L, hub, s, (size_t)n, sock_deadline(hub, s), &from);
  if (err == LG_IO_RAISE) return lg_greenlet_raise(L);
  if (err != 0) return sock_fail(L, err);
  if (sock_pushaddr(L, &from) != 3) return 1;		/* data [...] */
  lua_pop(L, 1);					/* data ip port */
  return 3;
}

/* disconnect(udp): forget the peer (setpeername("*")) */
static int sock_disconnect(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  struct sockaddr sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_family = AF_UNSPEC;
  if (s->fd >= 0 && connect(s->fd, &sa, sizeof(sa)) < 0 && errno != EAFNOSUPPORT)
    return sock_fail(L, errno);
  s->connected = 0;
  lua_pushinteger(L, 1);
  return 1;
}

/* -- Life ------------------------------------------------------------------ */

/* close(s) -> 1; whoever waits on s returns nil, "closed" */
static int sock_close(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  if (s->fd >= 0) {
    int fd = s->fd;
    sock_wakeall(lg_hub_find(L), s);
    s->fd = -1;
    close(fd);
  }
  s->kind = LG_K_CLOSED;
  s->first = s->last = 0;
  lua_pushinteger(L, 1);
  return 1;
}

static int sock_gc(lua_State *L)
{
  lg_sock *s = (lg_sock *)lua_touserdata(L, 1);
  if (s->fd >= 0) {
    sock_wakeall(lg_hub_find(L), s);
    close(s->fd);
    s->fd = -1;
  }
  return 0;
}

/* shutdown(s [, "both" | "send" | "receive"]) -> 1 | nil, err */
static int sock_shutdown(lua_State *L)
{
  static const char *const how[] = { "receive", "send", "both", NULL };
  lg_sock *s = sock_check(L, 1);
  int h = luaL_checkoption(L, 2, "both", how);
  if (s->fd < 0) return sock_fail(L, LG_IO_CLOSED);
  if (shutdown(s->fd, h == 0 ? SHUT_RD : h == 1 ? SHUT_WR : SHUT_RDWR) < 0)
    return sock_fail(L, errno);
  lua_pushinteger(L, 1);
  return 1;
}

/* settimeout(s, seconds | nil [, "b" | "t"]) -> 1; nil or < 0: none */
static int sock_settimeout(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  double t = luaL_optnumber(L, 2, -1);
  const char *mode = luaL_optstring(L, 3, "b");
  if (t < 0 || t != t) t = -1;
  switch (mode[0]) {
  case 'b': s->block = t; break;
  case 'r': case 't': s->total = t; break;
  default: return luaL_argerror(L, 3, "\"b\" or \"t\" expected");
  }
  lua_pushinteger(L, 1);
  return 1;
}

static int sock_gettimeout(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  lua_pushnumber(L, s->block);
  lua_pushnumber(L, s->total);
  return 2;
}

static int sock_getfd(lua_State *L)
{
  lua_pushinteger(L, sock_check(L, 1)->fd);
  return 1;
}

/* setfd(s, fd): adopt fd, or with -1 detach the current one without
** closing it (LuaSec's ssl.wrap takes the fd over this way). */
static int sock_setfd(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  lua_Number fd = luaL_checknumber(L, 2);
  if (fd != (lua_Number)(int)fd || fd < -1) luaL_argerror(L, 2, "fd expected");
  sock_wakeall(lg_hub_find(L), s);
  s->fd = (int)fd;
  s->drained = 0;
  if (s->fd < 0) s->kind = LG_K_CLOSED;
  else sock_setnonblock(s->fd);
  return 0;
}

static int sock_dirty(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  lua_pushboolean(L, s->first < s->last);
  return 1;
}

/* getstats(s) -> received, sent, age */
static int sock_getstats(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_sock *s = sock_check(L, 1);
  lua_pushnumber(L, s->nrecv);
  lua_pushnumber(L, s->nsent);
  lua_pushnumber(L, ev_now(hub->loop) - s->birth);
  return 3;
}

static int sock_name(lua_State *L, int peer)
{
  lg_sock *s = sock_check(L, 1);
  struct sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  int r;
  if (s->fd < 0) return sock_fail(L, LG_IO_CLOSED);
  memset(&sa, 0, sizeof(sa));
  r = peer ? getpeername(s->fd, (struct sockaddr *)&sa, &len)
	   : getsockname(s->fd, (struct sockaddr *)&sa, &len);
  if (r < 0) return sock_fail(L, errno);
  return sock_pushaddr(L, &sa);
}
static int sock_getpeername(lua_State *L) { return sock_name(L, 1); }
static int sock_getsockname(lua_State *L) { return sock_name(L, 0); }

/* -- Options, by LuaSocket's names ------------------------------------------ */

typedef struct lg_opt {
  const char *name;
  int level, opt;
  unsigned char kind;		/* 'b' boolean, 'i' integer, 'l' linger */
} lg_opt;

static const lg_opt sock_opts[] = {
  { "keepalive", SOL_SOCKET, SO_KEEPALIVE, 'b' },
  { "reuseaddr", SOL_SOCKET, SO_REUSEADDR, 'b' },
  { "reuseport", SOL_SOCKET, SO_REUSEPORT, 'b' },
  { "broadcast", SOL_SOCKET, SO_BROADCAST, 'b' },
  { "dontroute", SOL_SOCKET, SO_DONTROUTE, 'b' },
  { "linger", SOL_SOCKET, SO_LINGER, 'l' },
  { "recv-buffer-size", SOL_SOCKET, SO_RCVBUF, 'i' },
  { "send-buffer-size", SOL_SOCKET, SO_SNDBUF, 'i' },
  { "tcp-nodelay", IPPROTO_TCP, TCP_NODELAY, 'b' },
  { "tcp-keepidle", IPPROTO_TCP, TCP_KEEPIDLE, 'i' },
  { "tcp-keepcnt", IPPROTO_TCP, TCP_KEEPCNT, 'i' },
  { "tcp-keepintvl", IPPROTO_TCP, TCP_KEEPINTVL, 'i' },
  { "ipv6-v6only", IPPROTO_IPV6, IPV6_V6ONLY, 'b' },
  { "ip-multicast-ttl", IPPROTO_IP, IP_MULTICAST_TTL, 'i' },
  { "ip-multicast-loop", IPPROTO_IP, IP_MULTICAST_LOOP, 'b' },
  { NULL, 0, 0, 0 }
};

static const lg_opt *opt_check(lua_State *L, int idx)
{
  const char *name = luaL_checkstring(L, idx);
  const lg_opt *o;
  for (o = sock_opts; o->name; o++)
    if (!strcmp(o->name, name)) return o;
  luaL_argerror(L, idx, lua_pushfstring(L, "unsupported option '%s'", name));
  return NULL;
}

/* The fd options apply to, a lazy master getting an IPv4 one now: 0, or
** an errno (out of fds) or LG_IO_CLOSED. */
static int opt_fd(lg_sock *s)
{
  if (s->fd < 0 && s->kind == LG_K_MASTER && s->family == AF_UNSPEC)
    return sock_open(s, AF_INET);
  return s->fd < 0 ? LG_IO_CLOSED : 0;
}

/* setoption(s, name [, value]) -> 1 | nil, err */
static int sock_setoption(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  const lg_opt *o = opt_check(L, 2);
  int err = opt_fd(s), fd = s->fd, v, r;
  if (err != 0) return sock_fail(L, err);
  if (o->kind == 'l') {
    struct linger li;
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "on");				/* on */
    lua_getfield(L, 3, "timeout");			/* on timeout */
    li.l_onoff = lua_toboolean(L, -2);
    li.l_linger = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    r = setsockopt(fd, o->level, o->opt, &li, sizeof(li));
  } else {
    if (o->kind == 'b') v = lua_isnone(L, 3) ? 1 : lua_toboolean(L, 3);
    else v = (int)luaL_checkinteger(L, 3);
    r = setsockopt(fd, o->level, o->opt, &v, sizeof(v));
  }
  if (r < 0) return sock_fail(L, errno);
  lua_pushinteger(L, 1);
  return 1;
}

/* getoption(s, name) -> value | nil, err */
static int sock_getoption(lua_State *L)
{
  lg_sock *s = sock_check(L, 1);
  const lg_opt *o = opt_check(L, 2);
  int err = opt_fd(s), fd = s->fd, v = 0;
  socklen_t len;
  if (err != 0) return sock_fail(L, err);
  if (o->kind == 'l') {
    struct linger li;
    len = sizeof(li);
    if (getsockopt(fd, o->level, o->opt, &li, &len) < 0) return sock_fail(L, errno);
    lua_createtable(L, 0, 2);				/* t */
    lua_pushboolean(L, li.l_onoff);
    lua_setfield(L, -2, "on");
    lua_pushinteger(L, li.l_linger);
    lua_setfield(L, -2, "timeout");
    return 1;
  }
  len = sizeof(v);
  if (getsockopt(fd, o->level, o->opt, &v, &len) < 0) return sock_fail(L, errno);
  if (o->kind == 'b') lua_pushboolean(L, v);
  else lua_pushinteger(L, v);
  return 1;
}

/* -- Construction -------------------------------------------------------- */

/* new("tcp" | "udp" | "unix", family | nil) -> master socket | nil, err */
static int sock_new(lua_State *L)
{
  static const char *const types[] = { "tcp", "udp", "unix", NULL };
  static const char *const fams[] = { "any", "inet", "inet6", NULL };
  lg_hub *hub = lg_lib_hub(L);
  int t = luaL_checkoption(L, 1, NULL, types);
  int f = luaL_checkoption(L, 2, "any", fams);
  int type = t == 1 ? SOCK_DGRAM : SOCK_STREAM;
  int family = t >= 2 ? AF_UNIX : f == 1 ? AF_INET : f == 2 ? AF_INET6 : AF_UNSPEC;
  lg_sock *s = sock_push(L, AF_UNSPEC, type, -1, LG_K_MASTER);	/* s */
  s->birth = ev_now(hub->loop);
  if (family != AF_UNSPEC) {
    int err = sock_open(s, family);
    if (err) return sock_fail(L, err);
  }
  return 1;
}

/* write() to a pipe has no MSG_NOSIGNAL: a reader that went away would
** kill the process with SIGPIPE.  Ignore it, as LuaSocket does when it
** loads, unless the program chose a disposition of its own. */
static void sock_nosigpipe(void)
{
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
      !(sa.sa_flags & SA_SIGINFO))
    signal(SIGPIPE, SIG_IGN);
}

/* wrap(fd) -> stream over any fd (a pipe end): non-blocking, read/write */
static int sock_wrap(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lua_Number n = luaL_checknumber(L, 1);
  lg_sock *s;
  if (n < 0 || n != (lua_Number)(int)n) luaL_argerror(L, 1, "file descriptor expected");
  if (sock_setnonblock((int)n) < 0) return sock_fail(L, errno);
  sock_nosigpipe();
  s = sock_push(L, AF_UNSPEC, SOCK_STREAM, (int)n, LG_K_CLIENT);
  s->pipe = 1;
  s->birth = ev_now(hub->loop);
  return 1;
}

static int sock_tostring(lua_State *L)
{
  static const char *const kinds[] = { "master", "client", "server", "closed" };
  lg_sock *s = sock_check(L, 1);
  const char *proto = s->pipe ? "pipe" : s->family == AF_UNIX ? "unix"
		      : s->type == SOCK_DGRAM ? "udp" : "tcp";
  const char *k = kinds[s->kind];
  if (s->type == SOCK_DGRAM && s->kind != LG_K_CLOSED)
    k = s->connected ? "connected" : "unconnected";
  lua_pushfstring(L, "%s{%s}: %p", proto, k, (void *)s);
  return 1;
}

/* kind(s) -> "master" | "client" | "server" | "closed", "tcp" | "udp" | ... */
static int sock_kind(lua_State *L)
{
  static const char *const kinds[] = { "master", "client", "server", "closed" };
  lg_sock *s = sock_check(L, 1);
  lua_pushstring(L, kinds[s->kind]);
  lua_pushstring(L, s->pipe ? "pipe" : s->family == AF_UNIX ? "unix"
		 : s->type == SOCK_DGRAM ? "udp" : "tcp");
  lua_pushstring(L, s->family == AF_INET ? "inet" : s->family == AF_INET6
		 ? "inet6" : s->family == AF_UNIX ? "unix" : "any");
  return 3;
}

static const luaL_Reg socket_funcs[] = {
  { "new", sock_new }, { "wrap", sock_wrap },
  { "kind", sock_kind },
  { "receive", sock_receive }, { "send", sock_send },
  { "connect", sock_connect }, { "bind", sock_bind }, { "listen", sock_listen },
  { "accept", sock_accept }, { "sendto", sock_sendto },
  { "receivefrom", sock_receivefrom }, { "disconnect", sock_disconnect },
  { "close", sock_close }, { "shutdown", sock_shutdown },
  { "settimeout", sock_settimeout }, { "gettimeout", sock_gettimeout },
  { "getfd", sock_getfd }, { "setfd", sock_setfd }, { "dirty", sock_dirty },
  { "getstats", sock_getstats }, { "getpeername", sock_getpeername },
  { "getsockname", sock_getsockname }, { "setoption", sock_setoption },
  { "getoption", sock_getoption },
  { NULL, NULL }
};

/* Push the core.socket table; its `meta` field is the sockets' metatable,
** whose __index the Lua façade fills. */
void lg_open_socket(lua_State *L)
{
  lua_newtable(L);					/* S */
  luaL_newmetatable(L, LG_SOCK_META);			/* S mt */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "meta");
  lua_pushcfunction(L, sock_gc);
  lua_setfield(L, -2, "__gc");
  lua_getfield(L, LUA_REGISTRYINDEX, LG_HUB_KEY);	/* S mt hub */
  lua_pushvalue(L, -2);					/* S mt hub mt */
  lua_pushcclosure(L, sock_tostring, 2);		/* S mt tostring */
  lua_setfield(L, -2, "__tostring");			/* S mt */
  lua_getfield(L, LUA_REGISTRYINDEX, LG_HUB_KEY);	/* S mt hub */
  lua_insert(L, -2);					/* S hub mt */
  lg_setfuncs(L, socket_funcs, 2);			/* S */
}
