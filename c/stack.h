/*
** stack.h — C stacks for greenlets: mmap'd, guarded below; private ones
** pooled, shared ones carrying the live slices of several greenlets in turn
** (the rules are at the top of stack.c).
*/
#ifndef LG_STACK_H
#define LG_STACK_H

#include <stddef.h>
#include <stdint.h>

/* Internals are hidden even when built without -fvisibility=hidden (as
** LuaRocks does): ffi.C must not reach them (DESIGN rule 1). */
#pragma GCC visibility push(hidden)

#define LG_GUARD	(64 * 1024)	/* PROT_NONE below each stack (rule 4) */
#define LG_HOTBYTES	(16 * 1024)	/* top of a pooled stack kept resident */
#define LG_POOL_HOT	128		/* pooled stacks kept fully resident */
#define LG_POOL_MAX	1024		/* pooled stacks at most; more are unmapped */
#define LG_STACK_MIN	(32 * 1024)	/* smallest opts.stack_size accepted */
#define LG_STACK_MAX	((size_t)1 << 30)

typedef struct lg_stack {
  char *lo;		/* lowest usable byte; LG_GUARD of PROT_NONE below */
  size_t size;		/* usable bytes */
  unsigned vgid;	/* valgrind's stack id (LG_VALGRIND builds) */
  unsigned char shared;	/* a VM's shared stack: slices come and go */
  unsigned char poisoned; /* LG_ASAN: no slice in place, PROT_NONE */
  const char *label;	/* name of who runs on it, or NULL: ... */
  const void *owner;	/* ... its address, for the overflow report */
} lg_stack;

/* The saved live slice of a greenlet suspended off its shared stack: the
** bytes from its saved stack pointer up to the stack's top. */
typedef struct lg_slice {
  char *buf;		/* malloc'd; capacity kept until the greenlet dies */
  size_t len, cap;	/* bytes saved now (0: in place, or none), allocated */
} lg_slice;

typedef struct lg_stackpool {
  lg_stack free[LG_POOL_MAX];	/* released private stacks of defsize, LIFO */
  int nfree;			/* entries used in free[] */
  size_t defsize;		/* default usable size for this VM */
  size_t nmapped;		/* stacks mapped now (used + pooled + shared) */
  size_t maxmapped;		/* private stacks stop here: vm.max_map_count
				   less room for everything else, halved */
  size_t pagesize;		/* from sysconf, cached */
} lg_stackpool;

#define lg_stack_lo(s)	((s)->lo)
/* The 16-aligned top of a stack: where a context starts, where slices end. */
#define lg_stack_top(s) \
  ((char *)((uintptr_t)((s)->lo + (s)->size) & ~(uintptr_t)15))

void lg_stack_poolinit(lg_stackpool *p, size_t defsize);
/* Get a private stack of at least size usable bytes.  0 or an errno. */
int lg_stack_get(lg_stackpool *p, size_t size, lg_stack *s);
/* Map a stack that no pool will hold (a shared one).  0 or an errno. */
int lg_stack_map(lg_stackpool *p, size_t size, lg_stack *s);
/* Give a stack back: pooled (cold pages returned) or unmapped. */
void lg_stack_put(lg_stackpool *p, lg_stack *s);
/* Unmap every pooled stack (call only at lua_close). */
void lg_stack_drain(lg_stackpool *p);
/* Unmap one stack now, bypassing the pool. */
void lg_stack_unmap(lg_stackpool *p, lg_stack *s);
/* Format why lg_stack_get failed into buf: names the limit and the fix. */
void lg_stack_strerror(lg_stackpool *p, int err, size_t size, char *buf, size_t n);

/* Copy the slice [sp, top of s) into sl (growing it).  0 or ENOMEM. */
int lg_slice_save(lg_slice *sl, const lg_stack *s, const char *sp);
/* Copy sl back to [top of s - sl->len, top of s). */
void lg_slice_restore(lg_slice *sl, lg_stack *s);
void lg_slice_free(lg_slice *sl);
/* Checking builds (ASan): nothing may touch s while no slice is in place. */
void lg_stack_poison(lg_stack *s);

/* The running greenlet's stack on this OS thread; NULL on a thread's own
** stack.  Set at every switch; read by the SIGSEGV handler. */
extern __thread const lg_stack *lg_stack_current
  __attribute__((tls_model("initial-exec")));

/* Install the overflow reporter (once per process) and a sigaltstack for
** the calling thread if it has none. */
void lg_stack_guardinit(void);
/* Report an overflow of s in one line and exit (async-signal-safe). */
void lg_stack_overflowed(const lg_stack *s);

#endif
