/*
** switch.c — lg_ctx_make for the asm switches, and the ucontext fallback.
** The frame layouts mirror the diagrams at the top of each .S file.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "switch.h"

#if !LG_UCONTEXT

void lg_switch_entry(void);	/* in the .S: calls fn(arg), never returns */

#if defined(__x86_64__)

typedef struct lg_frame {	/* see switch_x86_64.S */
  uint32_t mxcsr;
  uint16_t fpucw, pad;
  void *r15, *r14, *r13, *r12, *rbx, *rbp;
  void *ret;
} lg_frame;
_Static_assert(sizeof(lg_frame) == 64, "x86_64 switch frame is 64 bytes");
_Static_assert(offsetof(lg_frame, r12) == 32, "r12 at sp+32 holds fn");
_Static_assert(offsetof(lg_frame, ret) == 56, "return address at sp+56");

void lg_ctx_make(lg_ctx *c, char *lo, size_t size, lg_ctx_fn fn)
{
  uintptr_t top = ((uintptr_t)(lo + size)) & ~(uintptr_t)15;
  /* After ret pops f->ret, rsp = top-16: 16-aligned for lg_switch_entry's
  ** call.  The 16 bytes above stay zero (a null return address). */
  lg_frame *f = (lg_frame *)(top - 16 - sizeof(lg_frame));
  memset(f, 0, sizeof(*f) + 16);
  f->mxcsr = 0x1f80;		/* all exceptions masked, round to nearest */
  f->fpucw = 0x037f;		/* x87 default: extended precision, masked */
  f->r12 = (void *)fn;
  f->ret = (void *)lg_switch_entry;
  c->sp = f;
}

#elif defined(__aarch64__)

typedef struct lg_frame {	/* see switch_aarch64.S */
  double d[8];
  void *x19, *x20, *x21_28[8], *x29, *x30;
  uint64_t fpcr, pad;
} lg_frame;
_Static_assert(sizeof(lg_frame) == 176, "aarch64 switch frame is 176 bytes");
_Static_assert(offsetof(lg_frame, x19) == 64, "x19 at sp+64 holds fn");
_Static_assert(offsetof(lg_frame, x30) == 152, "lr at sp+152");
_Static_assert(offsetof(lg_frame, fpcr) == 160, "FPCR at sp+160");

void lg_ctx_make(lg_ctx *c, char *lo, size_t size, lg_ctx_fn fn)
{
  uintptr_t top = ((uintptr_t)(lo + size)) & ~(uintptr_t)15;
  lg_frame *f = (lg_frame *)(top - 16 - sizeof(lg_frame));
  memset(f, 0, sizeof(*f) + 16);	/* fpcr 0: to nearest, no FZ, no traps */
  f->x19 = (void *)fn;
  f->x30 = (void *)lg_switch_entry;
  c->sp = f;
}

#endif

#else /* LG_UCONTEXT: portable, slower (swapcontext saves the signal mask) */

/* makecontext passes int arguments only: split the pointers in two. */
static void lg_ctx_start(unsigned fhi, unsigned flo, unsigned chi, unsigned clo)
{
  lg_ctx_fn fn = (lg_ctx_fn)(((uintptr_t)fhi << 32) | flo);
  lg_ctx *c = (lg_ctx *)(((uintptr_t)chi << 32) | clo);
  fn(c->arg);
  abort();			/* fn must not return */
}

void lg_ctx_make(lg_ctx *c, char *lo, size_t size, lg_ctx_fn fn)
{
  uintptr_t f = (uintptr_t)fn, p = (uintptr_t)c;
  getcontext(&c->uc);
  c->uc.uc_stack.ss_sp = lo;
  c->uc.uc_stack.ss_size = size;
  c->uc.uc_link = NULL;
  makecontext(&c->uc, (void (*)(void))lg_ctx_start, 4,
	      (unsigned)(f >> 32), (unsigned)f, (unsigned)(p >> 32), (unsigned)p);
}

void *lg_ctx_swap(lg_ctx *from, lg_ctx *to, void *arg)
{
  to->arg = arg;
  swapcontext(&from->uc, &to->uc);
  return from->arg;
}

#endif
