/*
** switch.h — the machine context of a suspended greenlet and the two
** operations on it.  One implementation per ABI, chosen by a flat #if chain:
**   switch_x86_64.S   x86_64 SysV
**   switch_aarch64.S  AAPCS64
**   switch.c          ucontext: anything else, or LG_UCONTEXT=1 at build time
*/
#ifndef LG_SWITCH_H
#define LG_SWITCH_H

#include <stddef.h>

#if !defined(LG_UCONTEXT)
#if defined(__x86_64__) || defined(__aarch64__)
#define LG_UCONTEXT 0
#else
#define LG_UCONTEXT 1
#endif
#endif

#if LG_UCONTEXT
#include <ucontext.h>
#endif

/* Internals are hidden even when built without -fvisibility=hidden (as
** LuaRocks does): ffi.C must not reach them (DESIGN rule 1). */
#pragma GCC visibility push(hidden)

#if LG_UCONTEXT
typedef struct lg_ctx {
  ucontext_t uc;	/* signal mask and all registers, via swapcontext */
  void *arg;		/* value handed to this context by the last swap into it */
} lg_ctx;
#else
typedef struct lg_ctx {
  void *sp;		/* stack pointer; everything else is saved below it */
} lg_ctx;
#endif

typedef void (*lg_ctx_fn)(void *arg);

/* Prepare c so that the first lg_ctx_swap into it calls fn(arg) on the
** stack [lo, lo+size).  fn must never return. */
void lg_ctx_make(lg_ctx *c, char *lo, size_t size, lg_ctx_fn fn);

/* Save the running context into from, resume to, handing it arg.  Returns
** the arg of the swap that later resumes from. */
#if LG_UCONTEXT
void *lg_ctx_swap(lg_ctx *from, lg_ctx *to, void *arg);
#else
void *lg_switch_swap(void **save_sp, void *sp, void *arg);
static inline void *lg_ctx_swap(lg_ctx *from, lg_ctx *to, void *arg)
{
  return lg_switch_swap(&from->sp, to->sp, arg);
}
#endif

#endif
