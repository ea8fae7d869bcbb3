/*
** slice_check.c — two contexts take turns on one shared stack, their live
** slices copied off and back by hand the way greenlet.c does it (rules at
** the top of stack.c).  Builds against stack.c and switch.c only; TAP.
*/
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "../../c/stack.h"
#include "../../c/switch.h"

static lg_ctx mainctx, ctx[2];
static lg_slice slice[2];
static lg_stack shared;
static int occupant = -1;	/* whose frames are on the shared stack */
static long sums[2];

/* Recurse depth levels, with locals that must survive each trip out. */
static long deep(int who, int depth)
{
  volatile char pad[200];
  long r;
  memset((char *)pad, who + depth, sizeof(pad));
  if (depth == 0) {
    lg_ctx_swap(&ctx[who], &mainctx, NULL);
    return 0;
  }
  r = deep(who, depth - 1);
  return r + pad[0] + pad[199];
}

static void body(void *arg)
{
  int who = (int)(long)arg;
  for (;;) {
    sums[who] = deep(who, who ? 3 : 40);
    lg_ctx_swap(&ctx[who], &mainctx, NULL);
  }
}

/* Put who's frames on the shared stack: save the occupant's first. */
static int place(int who)
{
  if (occupant == who) return 0;
  if (occupant >= 0 &&
      lg_slice_save(&slice[occupant], &shared, ctx[occupant].sp) != 0)
    return -1;
  lg_slice_restore(&slice[who], &shared);
  occupant = who;
  return 0;
}

int main(void)
{
  lg_stackpool p;
  int i, good = 1, ok1;
  lg_stack_poolinit(&p, 256 * 1024);
  ok(lg_stack_map(&p, 256 * 1024, &shared) == 0, "a shared stack is mapped");
  shared.shared = 1;
  for (i = 0; i < 2; i++) {	/* each is laid out fresh when first placed */
    place(i);
    lg_ctx_make(&ctx[i], shared.lo, shared.size, body);
    lg_ctx_swap(&mainctx, &ctx[i], (void *)(long)i);	/* parks, deep */
  }
  ok(slice[0].len > 40 * 200 && slice[0].len < 40 * 400,
     "the deep one's slice holds its 40 frames, no more");
  ok(slice[1].len == 0 && occupant == 1, "the occupant's frames stay in place");
  for (i = 0; i < 1000 && good; i++) {	/* both sides unwind and park again */
    int who = i & 1;
    long want;
    if (place(who) != 0) good = 0;
    lg_ctx_swap(&mainctx, &ctx[who], NULL);	/* finishes deep(), parks in body */
    want = 0;
    {
      int d;
      for (d = 1; d <= (who ? 3 : 40); d++) want += 2 * (char)(who + d);
    }
    if (sums[who] != want) good = 0;
    if (place(who) != 0) good = 0;
    lg_ctx_swap(&mainctx, &ctx[who], NULL);	/* parks deep again */
  }
  ok(good, "1000 turns each way: every frame's locals come back intact");
  ok1 = slice[0].cap >= slice[0].len && slice[0].cap < 2 * slice[0].len + 64;
  ok(ok1, "a slice's buffer is sized to fit");
  lg_slice_free(&slice[0]);
  lg_slice_free(&slice[1]);
  ok(slice[0].buf == NULL && slice[0].cap == 0, "slices are freed");
  lg_stack_unmap(&p, &shared);
  ok(p.nmapped == 0, "the shared stack is unmapped");
  return tap_done();
}
