/*
** qemu_run.c — how spec/c/check_aarch64.sh runs an arm64 interpreter:
**   QEMU -L / -E LD_LIBRARY_PATH=LIBS [-E LD_PRELOAD=...] INTERP args...
** A static host binary, so that an arm64 LD_PRELOAD in its environment
** (spec/18's and spec/40's slow_gai.so, cross-built) meets no host ld.so:
** it is moved out of the host environment and into the guest's.
** Built with -DQEMU=... -DLIBS=... -DINTERP=... (string literals).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  const char *pre = getenv("LD_PRELOAD");
  char **av = calloc((size_t)argc + 8, sizeof(char *));
  char *guestpre = NULL;
  int n = 0, i;
  if (av == NULL) return 127;
  av[n++] = QEMU;
  av[n++] = "-L";
  av[n++] = "/";
  av[n++] = "-E";
  av[n++] = "LD_LIBRARY_PATH=" LIBS;
  if (pre && *pre) {
    size_t len = strlen(pre) + sizeof("LD_PRELOAD=");
    if ((guestpre = malloc(len)) == NULL) return 127;
    snprintf(guestpre, len, "LD_PRELOAD=%s", pre);
    av[n++] = "-E";
    av[n++] = guestpre;
  }
  unsetenv("LD_PRELOAD");
  av[n++] = INTERP;
  for (i = 1; i < argc; i++) av[n++] = argv[i];
  av[n] = NULL;
  execv(QEMU, av);
  fprintf(stderr, "qemu_run: cannot run %s: %s\n", QEMU, strerror(errno));
  return 127;
}
