/*
** slow_gai.c — an LD_PRELOAD shim for spec/18-resolve_spec.lua: a resolver
** that takes its time, so the spec can show a lookup never stops the hub.
**
** getaddrinfo of a name ending in ".slow.test" answers 127.0.0.1 after a
** while: "<ms>ms.slow.test" sleeps that many milliseconds; "held.slow.test"
** waits until the file named by SLOW_GAI_GATE exists, or the process exits
** (at most 20 s, so a broken spec fails instead of hanging); any other
** such name sleeps 500 ms.  Every other name goes to the real getaddrinfo.
** With SLOW_GAI_LINGER_MS set, the process lingers at exit (after
** lua_close), releasing the held lookups and waiting until every lookup in
** flight has answered (at most that long), so lookups still running then
** complete in a closed VM, and the spec can count them.
**
**   cc -shared -fPIC -o slow_gai.so spec/c/slow_gai.c -ldl
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SUFFIX ".slow.test"
#define HOLD_MAX_MS 20000

static int inflight;	/* lookups of ours not answered yet (atomic) */
static int released;	/* exit: held lookups go on (atomic) */

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
		      struct addrinfo **);

static void sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait for the gate (or exit); returns the milliseconds waited. */
static long hold(void)
{
  const char *gate = getenv("SLOW_GAI_GATE");
  long t0 = now_ms();
  while (now_ms() - t0 < HOLD_MAX_MS && !__atomic_load_n(&released, __ATOMIC_SEQ_CST)
	 && !(gate && access(gate, F_OK) == 0))
    sleep_ms(1);
  return now_ms() - t0;
}

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
  gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
  size_t n = node ? strlen(node) : 0, k = strlen(SUFFIX);
  struct addrinfo h;
  long ms = 500;
  int r;
  if (n <= k || strcmp(node + n - k, SUFFIX) != 0)
    return real(node, service, hints, res);
  __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  if (strcmp(node, "held" SUFFIX) == 0) ms = hold();
  else {
    if (strstr(node, "ms" SUFFIX)) ms = atol(node);
    sleep_ms(ms);
  }
  memset(&h, 0, sizeof(h));
  if (hints) h = *hints;
  h.ai_family = AF_INET;
  h.ai_flags |= AI_NUMERICHOST;
  r = real("127.0.0.1", service, &h, res);
  fprintf(stderr, "slow_gai: %s answered after %ld ms\n", node, ms);
  __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  return r;
}

static void linger(void)
{
  const char *ms = getenv("SLOW_GAI_LINGER_MS");
  long until = now_ms() + (ms ? atol(ms) : 0);
  __atomic_store_n(&released, 1, __ATOMIC_SEQ_CST);
  while (now_ms() < until && __atomic_load_n(&inflight, __ATOMIC_SEQ_CST) > 0)
    sleep_ms(1);
}

__attribute__((constructor)) static void slow_gai_init(void)
{
  atexit(linger);
}
