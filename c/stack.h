/*
** stack.h — C stacks for greenlets: mmap'd, guarded below, pooled.
**
** A guarded stack costs two kernel mappings, and vm.max_map_count caps them
** (65530 by default: ~32,000 stacks).  Past a quarter of that limit, stacks
** come from slabs of LG_SLAB_N stacks in one mapping, with no guard between
** them but a canary word at the bottom of each, checked at every switch out
** of it (rule 6).
*/
#ifndef LG_STACK_H
#define LG_STACK_H

#include <stddef.h>

/* Internals are hidden even when built without -fvisibility=hidden (as
** LuaRocks does): ffi.C must not reach them (DESIGN rule 1). */
#pragma GCC visibility push(hidden)

#define LG_GUARD	(64 * 1024)	/* PROT_NONE below each stack (rule 4) */
#define LG_HOTBYTES	(16 * 1024)	/* top of a pooled stack kept resident */
#define LG_POOL_HOT	128		/* pooled stacks kept fully resident */
#define LG_POOL_MAX	1024		/* pooled stacks at most; more are unmapped */
#define LG_STACK_MIN	(32 * 1024)	/* smallest opts.stack_size accepted */
#define LG_STACK_MAX	((size_t)1 << 30)
#define LG_SLAB_N	64		/* stacks per slab mapping */
#define LG_CANARY	0x6c67737461636b21ULL	/* "lgstack!" at a slab stack's bottom */

typedef struct lg_stack {
  char *lo;		/* lowest usable byte; a guarded one has LG_GUARD below */
  size_t size;		/* usable bytes */
  unsigned vgid;	/* valgrind's stack id (LG_VALGRIND builds) */
  unsigned char slab;	/* from a slab: no guard, a canary at lo */
  const char *label;	/* name of who runs on it, or NULL: ... */
  const void *owner;	/* ... its address, for the overflow report */
} lg_stack;

typedef struct lg_stackpool {
  lg_stack free[LG_POOL_MAX];	/* released guarded stacks of defsize, LIFO */
  int nfree;			/* entries used in free[] */
  lg_stack *slabfree;		/* released slab stacks (malloc'd), LIFO */
  size_t nslabfree, slabcap;	/* entries used, allocated in slabfree */
  char **slabs;			/* slab mappings, unmapped by lg_stack_drain */
  size_t nslabs, slabscap;	/* entries used, allocated in slabs */
  size_t defsize;		/* default usable size for this VM */
  size_t nmapped;		/* guarded stacks mapped now (used + pooled) */
  size_t maxguarded;		/* beyond this many, slabs */
  size_t pagesize;		/* from sysconf, cached */
} lg_stackpool;

#define lg_stack_lo(s)	((s)->lo)
/* Has a slab stack run over its bottom? */
#define lg_stack_smashed(s) \
  ((s)->slab && *(const unsigned long long *)(const void *)(s)->lo != LG_CANARY)

void lg_stack_poolinit(lg_stackpool *p, size_t defsize);
/* Get a stack of at least size usable bytes.  Returns 0 or an errno. */
int lg_stack_get(lg_stackpool *p, size_t size, lg_stack *s);
/* Give a stack back: pooled (cold pages returned) or unmapped. */
void lg_stack_put(lg_stackpool *p, lg_stack *s);
/* Unmap every pooled stack, and every slab (call only at lua_close). */
void lg_stack_drain(lg_stackpool *p);
/* Unmap one guarded stack now, bypassing the pool (slab stacks: no-op). */
void lg_stack_unmap(lg_stackpool *p, lg_stack *s);
/* Report a smashed slab stack in one line and exit (like an overflow). */
void lg_stack_overflowed(const lg_stack *s);
/* Format why lg_stack_get failed into buf: names the limit and the fix. */
void lg_stack_strerror(lg_stackpool *p, int err, size_t size, char *buf, size_t n);


/* The running greenlet's stack on this OS thread; NULL on a thread's own
** stack.  Set at every switch; read by the SIGSEGV handler. */
extern __thread const lg_stack *lg_stack_current
  __attribute__((tls_model("initial-exec")));

/* Install the overflow reporter (once per process) and a sigaltstack for
** the calling thread if it has none. */
void lg_stack_guardinit(void);

#endif
