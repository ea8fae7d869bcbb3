/*
** slab_check.c — the stack allocator past the guarded budget (DESIGN rule
** 6): slab stacks share one mapping, carry a canary, and an overrun of the
** bottom is detected.  Builds against stack.c and switch.c only; TAP.
*/
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "../../c/stack.h"
#include "../../c/switch.h"

static lg_ctx mainctx, ctx;
static lg_stack victim;
static size_t overrun;


/* Write below the stack's bottom, as a runaway recursion would. */
static void body(void *arg)
{
  (void)arg;
  if (overrun) memset(victim.lo - overrun + 8, 0xAB, overrun);
  lg_ctx_swap(&ctx, &mainctx, NULL);
  for (;;) lg_ctx_swap(&ctx, &mainctx, NULL);
}

static int run_on(lg_stack *s, size_t under)
{
  victim = *s;
  overrun = under;
  lg_ctx_make(&ctx, s->lo, s->size, body);
  lg_ctx_swap(&mainctx, &ctx, NULL);
  return lg_stack_smashed(s);
}

int main(void)
{
  lg_stackpool p;
  lg_stack s[130];
  int i, slabs = 1, distinct = 1;
  lg_stack_poolinit(&p, 64 * 1024);
  p.maxguarded = 2;		/* two guarded, then slabs */
  for (i = 0; i < 130; i++)
    if (lg_stack_get(&p, 64 * 1024, &s[i]) != 0) return 1;
  ok(!s[0].slab && !s[1].slab && p.nmapped == 2, "the first stacks are guarded");
  for (i = 2; i < 130; i++) slabs &= s[i].slab;
  ok(slabs && p.nslabs == 2, "past the budget, 128 stacks come from 2 slabs");
  for (i = 3; i < 130; i++) distinct &= s[i].lo != s[i - 1].lo;
  ok(distinct, "slab stacks are distinct");
  ok(!run_on(&s[5], 0), "a slab stack used within bounds keeps its canary");
  /* s[5]'s bottom is s[6]'s top or vice versa: write only into the canary */
  ok(run_on(&s[5], 16), "an overrun of the bottom is detected");
  for (i = 0; i < 130; i++) lg_stack_put(&p, &s[i]);
  ok(p.nslabfree == 128 && p.nfree == 2, "all stacks go back to their pools");
  ok(lg_stack_get(&p, 64 * 1024, &s[0]) == 0 && !s[0].slab,
     "a pooled guarded stack is preferred");
  lg_stack_put(&p, &s[0]);
  lg_stack_drain(&p);
  ok(p.nmapped == 0 && p.nslabs == 0, "drain unmaps guarded stacks and slabs");
  return tap_done();
}
