/*
** stack.c — C stacks for greenlets, and the slices copied on and off the
** shared ones.
**
** A stack is one mapping: LG_GUARD bytes of PROT_NONE at the bottom, then
** the usable stack.  MAP_NORESERVE: only touched pages cost memory.
** MADV_NOHUGEPAGE: a stack must not be backed by a 2 MiB page.
**
** Two kinds of stack, both in one VM (the rules of stack slicing):
** - Private: one per greenlet, pooled when it dies.  Two kernel mappings
**   each, so vm.max_map_count (65530 by default) caps them near 32,000;
**   past that lg_stack_strerror names the limit and suggests shared stacks.
**   The hub greenlet and main always run on private stacks (main on the
**   thread's own).
** - Shared: a few (LG_NSHARED) per VM, mapped on first use, default size,
**   guarded like private ones.  A greenlet is pinned to the shared stack it
**   starts on.  The one whose frames are in place is its occupant; any other
**   greenlet of that stack, while suspended, keeps its live slice (saved
**   stack pointer up to the top of the stack: a few hundred bytes when
**   parked in the hub) in a heap buffer sized to fit (grown geometrically,
**   capacity kept, freed at death).
** - A switch to T on shared stack S whose occupant is C != T saves C's
**   slice, then copies T's back (or lays a fresh frame for a new T).  This
**   is plain C on the stack of whoever switches, except when the running
**   greenlet is on S itself (it cannot overwrite the stack it runs on): it
**   then hops through the VM's small private switcher context, which does
**   the copies and swaps into T.  A greenlet leaving S for any other stack
**   leaves its slice in place: parking in the hub copies nothing, and the
**   hub does any copy before it resumes someone on S.
** - Hence nothing outside a running greenlet may point into its stack: libev
**   watchers, resolver jobs, socket buffers, anything another greenlet, a
**   libev callback or a C thread may touch while it is suspended lives in
**   heap objects (greenlet, hubnode, socket structs).  The ASan build
**   (LG_ASAN) checks it: every switch away from a shared-stack greenlet
**   copies its slice out and makes the whole shared stack ASan-poisoned and
**   PROT_NONE until a slice is copied back, so a touch of a suspended
**   greenlet's frame is reported where it happens (by ASan, or as a SEGV
**   for code it does not instrument, like libev).  The copies are not
**   instrumented, restoring clears the stale shadow of earlier occupants'
**   frames, and ASan's fiber switches are told the shared stack's bounds
**   (the switcher's own for a hop).  Valgrind builds register shared
**   stacks like private ones and mark a slice's bytes addressable before
**   copying it back.
** - Overflow: every stack has the guard; lg_stack_current is the stack the
**   running greenlet is on (the shared one, labelled with its occupant), so
**   the SIGSEGV reporter names the right greenlet.
** - The ucontext build has no saved stack pointer to slice at: there every
**   greenlet gets a private stack.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* before our headers: they make what follows hidden */
#if LG_VALGRIND
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
#endif
#if LG_ASAN
#include <sanitizer/asan_interface.h>
/* Frames of a greenlet that died never returned: their redzones would stay
** poisoned for the next user of the memory. */
#define lg_unpoison(s) __asan_unpoison_memory_region((s)->lo, (s)->size)
#else
#define lg_unpoison(s) ((void)0)
#endif

#include "stack.h"
#include "switch.h"



static long lg_max_map_count(void);

/* Mappings left to the rest of the process when private stacks took all
** they may: malloc arenas, LuaJIT's machine code, libraries (a JIT that
** cannot map code panics). */
#define LG_MAP_RESERVE	1024

void lg_stack_poolinit(lg_stackpool *p, size_t defsize)
{
  long maxmap = lg_max_map_count();
  memset(p, 0, sizeof(*p));
  p->pagesize = (size_t)sysconf(_SC_PAGESIZE);
  p->defsize = defsize;
  if (maxmap <= 0) maxmap = 65530;
  p->maxmapped = maxmap > 4 * LG_MAP_RESERVE ?
		 (size_t)(maxmap - LG_MAP_RESERVE) / 2 : (size_t)maxmap / 4;
}

static size_t roundpage(lg_stackpool *p, size_t n)
{
  return (n + p->pagesize - 1) & ~(p->pagesize - 1);
}

static void lg_stack_register(lg_stack *s)
{
#if LG_VALGRIND
  s->vgid = VALGRIND_STACK_REGISTER(s->lo, s->lo + s->size);
#else
  s->vgid = 0;
#endif
}

int lg_stack_map(lg_stackpool *p, size_t size, lg_stack *s)
{
  char *m;
  size = roundpage(p, size);
  m = mmap(NULL, LG_GUARD + size, PROT_NONE,
	   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return errno;
  if (mprotect(m + LG_GUARD, size, PROT_READ | PROT_WRITE) != 0) {
    int err = errno;
    munmap(m, LG_GUARD + size);
    return err;
  }
#ifdef MADV_NOHUGEPAGE
  madvise(m + LG_GUARD, size, MADV_NOHUGEPAGE);
#endif
  s->lo = m + LG_GUARD;
  s->size = size;
  s->shared = 0;
  s->poisoned = 0;
  s->label = NULL;
  s->owner = NULL;
  lg_stack_register(s);
  p->nmapped++;
  return 0;
}

int lg_stack_get(lg_stackpool *p, size_t size, lg_stack *s)
{
  size = roundpage(p, size);
  if (size == p->defsize && p->nfree > 0) {
    *s = p->free[--p->nfree];
    return 0;
  }
  if (p->nmapped >= p->maxmapped) return ENOMEM;	/* lg_stack_strerror */
  return lg_stack_map(p, size, s);
}

void lg_stack_unmap(lg_stackpool *p, lg_stack *s)
{
  lg_unpoison(s);
#if LG_VALGRIND
  VALGRIND_STACK_DEREGISTER(s->vgid);
#endif
  munmap(s->lo - LG_GUARD, LG_GUARD + s->size);
  s->lo = NULL;
  p->nmapped--;
}

/* Beyond the hot few, hand the cold part back: it is zero when touched
** again.  The hot few cost no syscall, so spawn/finish cycles stay cheap. */
static void lg_stack_cool(lg_stack *s, size_t npooled)
{
  if (npooled >= LG_POOL_HOT && s->size > LG_HOTBYTES)
    madvise(s->lo, s->size - LG_HOTBYTES, MADV_DONTNEED);
}

void lg_stack_put(lg_stackpool *p, lg_stack *s)
{
  lg_unpoison(s);
  if (s->size != p->defsize || p->nfree == LG_POOL_MAX) {
    lg_stack_unmap(p, s);
  } else {
    lg_stack_cool(s, (size_t)p->nfree);
    p->free[p->nfree++] = *s;
  }
  s->lo = NULL;
}

void lg_stack_drain(lg_stackpool *p)
{
  while (p->nfree > 0) lg_stack_unmap(p, &p->free[--p->nfree]);
}

/* -- Slices --------------------------------------------------------------- */

/* The copies run while ASan's shadow of the stack says nothing useful (a
** poisoned stack, or another greenlet's frames): not instrumented. */
#if LG_ASAN
__attribute__((no_sanitize_address, noinline))
#endif
static void lg_copy(char *dst, const char *src, size_t n)
{
#if LG_ASAN
  size_t i;
  for (i = 0; i < n; i++) ((volatile char *)dst)[i] = src[i];
#else
  memcpy(dst, src, n);
#endif
}

int lg_slice_save(lg_slice *sl, const lg_stack *s, const char *sp)
{
  size_t len = (size_t)(lg_stack_top(s) - sp);
  if (len > sl->cap) {		/* grow by half at least: deep parks recur */
    size_t cap = sl->cap + sl->cap / 2;
    char *nb;
    if (cap < len) cap = (len + 63) & ~(size_t)63;
    nb = (char *)malloc(cap);	/* the old content is dead: no realloc */
    if (nb == NULL) return ENOMEM;
    free(sl->buf);
    sl->buf = nb;
    sl->cap = cap;
  }
  lg_copy(sl->buf, sp, len);
  sl->len = len;
  return 0;
}

void lg_slice_restore(lg_slice *sl, lg_stack *s)
{
#if LG_ASAN
  if (s->poisoned) mprotect(s->lo, s->size, PROT_READ | PROT_WRITE);
  s->poisoned = 0;
#endif
  lg_unpoison(s);		/* clears the shadow of earlier occupants too */
#if LG_VALGRIND
  /* memcheck took what lies below the last occupant's stack pointer for
  ** dead: make room for this slice (or a fresh first frame) */
  {
    size_t room = sl->len > 256 ? sl->len : 256;
    VALGRIND_MAKE_MEM_UNDEFINED(lg_stack_top(s) - room, room);
  }
#endif
  lg_copy(lg_stack_top(s) - sl->len, sl->buf, sl->len);
  sl->len = 0;
}

void lg_slice_free(lg_slice *sl)
{
  free(sl->buf);
  sl->buf = NULL;
  sl->len = sl->cap = 0;
}

/* Poisoned for ASan's instrumented code, and PROT_NONE for all the rest
** (libev reads its watchers uninstrumented): a touch faults at once, before
** another slice could overwrite what was touched, and ASan reports it. */
void lg_stack_poison(lg_stack *s)
{
#if LG_ASAN
  __asan_poison_memory_region(s->lo, s->size);
  if (!s->poisoned) mprotect(s->lo, s->size, PROT_NONE);
  s->poisoned = 1;
#else
  (void)s;
#endif
}

static long lg_max_map_count(void)
{
  long v = -1;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
  if (f) {
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
  }
  return v;
}

static long lg_map_count(void)	/* lines of /proc/self/maps */
{
  long n = 0;
  int c;
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return -1;
  while ((c = getc(f)) != EOF) n += (c == '\n');
  fclose(f);
  return n;
}

void lg_stack_strerror(lg_stackpool *p, int err, size_t size, char *buf, size_t n)
{
  long maxmap = lg_max_map_count();
  if (err == ENOMEM && maxmap > 0 &&
      (p->nmapped >= p->maxmapped || lg_map_count() + 8 >= maxmap))
    snprintf(buf, n, "cannot map a greenlet stack: %zu stacks are mapped and "
	     "each takes 2 of the kernel's vm.max_map_count = %ld memory "
	     "mappings; %slet greenlets finish, or raise the limit (sysctl -w "
	     "vm.max_map_count=%ld)", p->nmapped, maxmap,
	     LG_UCONTEXT ? "" : "use shared stacks (opts.stack = \"shared\"), ",
	     maxmap * 4);
  else
    snprintf(buf, n, "cannot map a greenlet stack of %zu KiB (%zu mapped): %s",
	     size / 1024, p->nmapped, strerror(err));
}

/* -- Overflow report ---------------------------------------------------- */

/* The stack the running greenlet is on, per OS thread (greenlets never move
** between threads).  Written at each switch, read only by the handler. */
__thread const lg_stack *lg_stack_current __attribute__((tls_model("initial-exec")));

static struct sigaction lg_oldsegv;	/* written once, under lg_once */
static pthread_once_t lg_once = PTHREAD_ONCE_INIT;
static pthread_key_t lg_altkey;		/* per-thread sigaltstack, freed at exit */

#define LG_ALTSTACK (64 * 1024)

static void lg_putnum(char **p, size_t v)
{
  char tmp[24];
  int i = 0;
  do tmp[i++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  while (i > 0) *(*p)++ = tmp[--i];
}

static void lg_putstr(char **p, char *end, const char *s)
{
  while (*s && *p < end) *(*p)++ = *s++;
}

static void lg_puthex(char **p, uintptr_t v)
{
  char tmp[24];
  int i = 0;
  do tmp[i++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
  *(*p)++ = '0';
  *(*p)++ = 'x';
  while (i > 0) *(*p)++ = tmp[--i];
}

/* One line on stderr, then exit: async-signal-safe (write, _exit). */
void lg_stack_overflowed(const lg_stack *s)
{
  char buf[400], *p = buf, *end = buf + sizeof(buf) - 2;
  lg_putstr(&p, end, "lgreen: stack overflow in greenlet ");
  if (s->label) {
    lg_putstr(&p, end, "'");
    lg_putstr(&p, end - 64, s->label);
    lg_putstr(&p, end, "'");
  } else {
    lg_puthex(&p, (uintptr_t)s->owner);
  }
  lg_putstr(&p, end, s->shared ? " (shared stack size " : " (stack size ");
  lg_putnum(&p, s->size / 1024);
  lg_putstr(&p, end, s->shared ? " KiB; give it a private stack: opts.stack = "
	    "\"private\" and a larger opts.stack_size)\n"
	    : " KiB; raise opts.stack_size)\n");
  if (write(2, buf, (size_t)(p - buf)) < 0) { /* nothing left to do */ }
  _exit(2);
}

/* SIGSEGV on the alternate stack: a fault in the current greenlet's guard is
** a stack overflow, reported in one line; anything else goes on to the
** handler that was there before us (or the default action). */
static void lg_segv(int sig, siginfo_t *si, void *uc)
{
  const lg_stack *s = lg_stack_current;
  char *a = (char *)si->si_addr;
  if (s && a >= s->lo - LG_GUARD && a < s->lo)
    lg_stack_overflowed(s);
  if (lg_oldsegv.sa_flags & SA_SIGINFO) {
    lg_oldsegv.sa_sigaction(sig, si, uc);
  } else if (lg_oldsegv.sa_handler != SIG_DFL &&
	     lg_oldsegv.sa_handler != SIG_IGN) {
    lg_oldsegv.sa_handler(sig);
  } else {
    signal(SIGSEGV, SIG_DFL);	/* delivered again on return: the default */
    raise(SIGSEGV);
  }
}

static void lg_altfree(void *mem)
{
  stack_t ss;
  ss.ss_flags = SS_DISABLE;
  ss.ss_sp = NULL;
  ss.ss_size = 0;
  sigaltstack(&ss, NULL);
  munmap(mem, LG_ALTSTACK);
}

static void lg_segvinstall(void)
{
  struct sigaction sa;
  Dl_info self;
  /* The handler and the key's destructor point into this module: keep it
  ** loaded even when lua_close unloads it. */
  if (dladdr((void *)lg_segv, &self) && self.dli_fname)
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE);
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = lg_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  pthread_key_create(&lg_altkey, lg_altfree);
  sigaction(SIGSEGV, &sa, &lg_oldsegv);
}

void lg_stack_guardinit(void)
{
  stack_t ss;
  pthread_once(&lg_once, lg_segvinstall);
  if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
    void *mem = mmap(NULL, LG_ALTSTACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    ss.ss_sp = mem;
    ss.ss_size = LG_ALTSTACK;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) == 0) pthread_setspecific(lg_altkey, mem);
    else munmap(mem, LG_ALTSTACK);
  }
}
