/*
** slow_gai.c — an LD_PRELOAD shim for spec/18-resolve_spec.lua: a resolver
** that takes its time, so the spec can show a lookup never stops the hub.
**
** getaddrinfo of a name ending in ".slow.test" sleeps, then answers
** 127.0.0.1: "<ms>ms.slow.test" sleeps that many milliseconds, any other
** such name 500.  Every other name goes to the real getaddrinfo.  With
** SLOW_GAI_LINGER_MS set, the process lingers that long at exit (after
** lua_close), so a lookup still in flight then completes in a closed VM.
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

#define SUFFIX ".slow.test"

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
		      struct addrinfo **);

static void sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
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
  if (strstr(node, "ms" SUFFIX)) ms = atol(node);
  sleep_ms(ms);
  memset(&h, 0, sizeof(h));
  if (hints) h = *hints;
  h.ai_family = AF_INET;
  h.ai_flags |= AI_NUMERICHOST;
  r = real("127.0.0.1", service, &h, res);
  fprintf(stderr, "slow_gai: %s answered after %ld ms\n", node, ms);
  return r;
}

static void linger(void)
{
  const char *ms = getenv("SLOW_GAI_LINGER_MS");
  if (ms) sleep_ms(atol(ms));
}

__attribute__((constructor)) static void slow_gai_init(void)
{
  atexit(linger);
}
