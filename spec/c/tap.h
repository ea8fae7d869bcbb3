/* tap.h — the TAP lines of the C tests: ok(cond, what), then tap_done(). */
#ifndef LG_TAP_H
#define LG_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

static void ok(int cond, const char *what)
{
  tap_n++;
  if (!cond) tap_failed++;
  printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, what);
}

/* Print the plan; the exit status for main. */
static int tap_done(void)
{
  printf("1..%d\n", tap_n);
  return tap_failed != 0;
}

#endif
