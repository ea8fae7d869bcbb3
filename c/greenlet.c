/*
** greenlet.c — greenlet lifecycle: create, switch, throw, finish, collect.
**
** Values cross a switch the way lua_resume moves them: the side that
** switches out pushes them onto the state the other side is suspended in
** (or, for a new greenlet, onto its thread after the function), records how
** many in vm->nxfer, and swaps.  The resumed side only returns them, so it
** makes no API call that could raise between the swap and its return
** (DESIGN rule 2): errors are raised by lg_greenlet_raise, which re-syncs
** LuaJIT's cur_L first.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if LG_ASAN	/* before our headers: they make what follows hidden */
#include <sanitizer/common_interface_defs.h>
#endif

#include "greenlet.h"

#define LG_THREADS_MAX	256	/* clean threads kept for reuse */

/* -- Context checks ------------------------------------------------------ */

/* The probe's state; it runs synchronously on one OS thread. */
static __thread int lg_probehit __attribute__((tls_model("initial-exec")));
static __thread int lg_probing __attribute__((tls_model("initial-exec")));

static int lg_noop(lua_State *L)
{
  (void)L;
  return 0;
}

/* Hooks are suppressed inside a __gc finalizer and inside a debug hook, on
** every VM: the probe calls a function with a call hook set and sees
** whether the hook ran.  Setting a hook resets a count hook's counter,
** though (a sandbox's CPU limit would never fire in code that switches
** often), and cannot see a hook that cleared itself.  So the first probe
** that meets a hook puts lg_hooktramp in its place, once: the trampoline
** runs the hook, counting vm->inhook (a hook is running: exact, even after
** it cleared itself), and sees the probe's call itself (LUA_MASKCALL is
** added), so later probes set no hook.  debug.sethook also wraps at once
** (lgreen.greenlet), and debug.gethook shows the hook as it was set.
** Limit: one wrapped hook function per VM (PUC hooks are per thread; a
** thread with another C hook is probed the old way), and its events are
** filtered with the mask of the thread that was wrapped last. */

static lg_vm *lg_vmof(lua_State *L)
{
  lg_vm *vm;
  lua_getfield(L, LUA_REGISTRYINDEX, "lgreen.vm");	/* vm */
  vm = (lg_vm *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return vm;
}

/* The mask bit of a hook event (tail events belong to call or return). */
static int lg_eventmask(int event)
{
  switch (event) {
  case LUA_HOOKCALL: return LUA_MASKCALL;
  case LUA_HOOKRET: return LUA_MASKRET;
  case LUA_HOOKLINE: return LUA_MASKLINE;
  case LUA_HOOKCOUNT: return LUA_MASKCOUNT;
  default: return LG_LUA52 ? LUA_MASKCALL : LUA_MASKRET;
  }
}

/* Under lua_pcall from lg_hooktramp: the user's hook. */
static int lg_callhook(lua_State *L)
{
  lg_vm *vm = (lg_vm *)lua_touserdata(L, 1);
  lua_Debug *ar = (lua_Debug *)lua_touserdata(L, 2);
  lua_settop(L, 0);
  vm->userhook(L, ar);
  return 0;
}

static void lg_hooktramp(lua_State *L, lua_Debug *ar)
{
  lg_vm *vm;
  int st;
  if (lg_probing && ar->event == LUA_HOOKCALL) {	/* the probe's call */
    lg_probehit = 1;
    return;
  }
  if ((vm = lg_vmof(L)) == NULL) return;
  if (vm->userhook == NULL || !(vm->usermask & lg_eventmask(ar->event)))
    return;
  vm->inhook++;		/* pcall: an error in the hook must not leave it set */
  lua_pushcfunction(L, lg_callhook);
  lua_pushlightuserdata(L, vm);
  lua_pushlightuserdata(L, ar);
  st = lua_pcall(L, 2, 0, 0);
  vm->inhook--;
  if (st != 0) lua_error(L);
}

/* Put the trampoline in place of L's hook.  0 if L has a C hook other
** than the one already wrapped (it stays; probes set hooks then). */
static int lg_wraphook(lua_State *L, lg_vm *vm)
{
  lua_Hook h = lua_gethook(L);
  int mask = lua_gethookmask(L), count = lua_gethookcount(L);
  if (h == lg_hooktramp) return 1;
  if (h == NULL) return 0;
  if (vm->userhook != NULL && vm->userhook != h) return 0;
  vm->userhook = h;
  vm->usermask = mask;
  lua_sethook(L, lg_hooktramp, mask | LUA_MASKCALL, count);
  return 1;
}

/* Put the user's hook back in place of the trampoline (for debug.gethook). */
static void lg_unwraphook(lua_State *L, lg_vm *vm)
{
  if (lua_gethook(L) == lg_hooktramp)
    lua_sethook(L, vm->userhook, vm->usermask, lua_gethookcount(L));
}

/* Are hooks suppressed here (a finalizer or a hook is running)? */
static LG_NOINLINE int lg_hooksoff(lua_State *L, lg_vm *vm)
{
  lua_Hook h = lua_gethook(L);
  int wrapped = h == lg_hooktramp || (h != NULL && lg_wraphook(L, vm));
  int mask = 0, count = 0;
  if (!wrapped) {		/* none, or one we cannot wrap: probe's own */
    mask = lua_gethookmask(L);
    count = lua_gethookcount(L);
    lua_sethook(L, lg_hooktramp, LUA_MASKCALL, 0);
  }
  lg_probehit = 0;
  lg_probing = 1;
  lg_getr(L, vm, LG_R_NOOP);				/* noop */
  lua_call(L, 0, 0);
  lg_probing = 0;
  if (!wrapped) lua_sethook(L, h, mask, count);
  return !lg_probehit;
}

/* Switching inside a finalizer or a debug hook would leave the GC or the
** hooks of the whole VM stopped while other greenlets run (DESIGN rule 1).
** The common case costs one lua_gc call: 1 means the GC runs and we are
** not in a finalizer (LuaJIT stops it there); 5.4 answers -1 only inside
** one.  PUC 5.1 cannot say, so it always probes; so does a VM with a hook
** set (cheap once the hook is wrapped: no lua_sethook). */
static inline int lg_unsafe(lua_State *L, lg_vm *vm)
{
  int r;
  if (vm->inhook > 0) return 1;
  r = lua_gc(L, LUA_GCISRUNNING, 0);
#if LG_LUA54
  if (r < 0) return 1;
  if (lua_gethook(L) == NULL) return 0;
#else
  if (r == 1 && lua_gethook(L) == NULL) return 0;
#endif
  return lg_hooksoff(L, vm);
}

/* greenlet._hook(what [, thread]): "wrap" puts the trampoline around the
** thread's hook (debug.sethook calls it), "unwrap" takes it off (for
** debug.gethook, which wraps again after); "infinalizer" -> boolean. */
int lg_greenlet_hook(lua_State *L, lg_vm *vm)
{
  const char *what = luaL_checkstring(L, 1);
  lua_State *T = lua_isthread(L, 2) ? lua_tothread(L, 2) : L;
  if (strcmp(what, "wrap") == 0) lg_wraphook(T, vm);
  else if (strcmp(what, "unwrap") == 0) lg_unwraphook(T, vm);
  else if (strcmp(what, "infinalizer") == 0) {
    /* no hook of ours running, the GC stopped, hooks off: a finalizer */
    lua_pushboolean(L, vm->inhook == 0 && lua_gc(L, LUA_GCISRUNNING, 0) == 0 &&
			lg_hooksoff(L, vm));
    return 1;
  }
  else luaL_argerror(L, 1, "\"wrap\", \"unwrap\" or \"infinalizer\" expected");
  return 0;
}

/* -- Shared stacks (the rules are at the top of stack.c) ----------------- */

static void lg_greenlet_main(void *arg);

#if !LG_UCONTEXT
/* Save the occupant's slice of sh (if any) and leave sh empty. */
static void lg_evict(lg_shstack *sh)
{
  lg_greenlet *c = sh->occupant;
  if (c && lg_slice_save(&c->slice, &sh->stack, (const char *)c->ctx.sp)) {
    static const char msg[] = "lgreen: out of memory saving the stack slice "
			      "of a suspended greenlet\n";
    if (write(2, msg, sizeof(msg) - 1) < 0) { /* nothing left to do */ }
    abort();			/* mid-switch: nothing can be raised */
  }
  sh->occupant = NULL;
}

/* Put t's frames in place on its shared stack: save the occupant's slice,
** copy t's back (a new t gets a fresh first frame).  Never runs on t->sh. */
static void lg_place(lg_greenlet *t)
{
  lg_shstack *sh = t->sh;
  lg_evict(sh);
  lg_slice_restore(&t->slice, &sh->stack);
  if (t->ctx.sp == NULL)
    lg_ctx_make(&t->ctx, lg_stack_lo(&sh->stack), sh->stack.size,
		lg_greenlet_main);
  sh->occupant = t;
  t->vm->nplaced++;
  sh->stack.label = t->name;
  sh->stack.owner = t;
}

/* The switcher: a private context that places vm->hopto for a greenlet
** that cannot, being on the same shared stack, then swaps into it. */
static void lg_switcher(void *arg)
{
  lg_vm *vm = (lg_vm *)arg;
  for (;;) {
    lg_greenlet *t = vm->hopto;
#if LG_ASAN
    __sanitizer_finish_switch_fiber(vm->swfake, NULL, NULL);
#endif
    lg_place(t);
#if LG_ASAN
    __sanitizer_start_switch_fiber(&vm->swfake, lg_stack_lo(&t->sh->stack),
				   t->sh->stack.size);
#endif
    lg_ctx_swap(&vm->swctx, &t->ctx, t);
  }
}

/* Pin a new greenlet to a shared stack, round robin, skipping the one the
** running greenlet is on (a switch to it would need a hop).  Maps stacks
** and the switcher on first use.  0 or an errno. */
static int lg_pickshared(lg_vm *vm, lg_greenlet *g)
{
  lg_shstack *sh = &vm->sh[vm->nextsh++ % LG_NSHARED];
  int err;
  if (sh == vm->current->sh) sh = &vm->sh[vm->nextsh++ % LG_NSHARED];
  if (LG_UNLIKELY(sh->stack.lo == NULL)) {
    if (vm->swstack.lo == NULL) {
      if ((err = lg_stack_map(&vm->pool, 2 * LG_STACK_MIN, &vm->swstack)))
	return err;
      lg_ctx_make(&vm->swctx, lg_stack_lo(&vm->swstack), vm->swstack.size,
		  lg_switcher);
    }
    if ((err = lg_stack_map(&vm->pool, vm->pool.defsize, &sh->stack)))
      return err;
    sh->stack.shared = 1;
  }
  g->sh = sh;
  return 0;
}
#endif

/* -- Switching ----------------------------------------------------------- */

/* Right after a context resumes (self == NULL: a new greenlet).  A greenlet
** that just died left its stack here: it could not release the stack it was
** running on. */
static void lg_arrived(lg_vm *vm, lg_greenlet *self)
{
  if (vm->released.lo) lg_stack_put(&vm->pool, &vm->released);
#if LG_ASAN
  const void *lo;
  size_t size;
  lg_shstack *left = vm->from->sh;
  __sanitizer_finish_switch_fiber(self ? self->fake : NULL, &lo, &size);
  if (vm->from == vm->main) {	/* learn the main stack's bounds */
    vm->main_lo = lo;
    vm->main_size = size;
  }
#if !LG_UCONTEXT
  /* The checking build: a shared stack nobody runs on is copied out and
  ** poisoned, so a touch of a suspended greenlet's frame is reported. */
  if (left && left != vm->current->sh) {
    lg_evict(left);
    lg_stack_poison(&left->stack);
  }
#endif
#else
  (void)vm; (void)self;
#endif
}

/* Swap from the running greenlet to t (vm->nxfer/xkind already set). */
static void lg_swap(lg_vm *vm, lg_greenlet *self, lg_greenlet *t, int dying)
{
  lg_ctx *to = &t->ctx;
  void *arg = t;
  const lg_stack *ts = t->sh ? &t->sh->stack : t->stack.lo ? &t->stack : NULL;
  if (LG_UNLIKELY(vm->dbg != NULL)) lg_debug_switch(vm, self, t);
  vm->current = t;
  lg_stack_current = ts;
  if (LG_UNLIKELY(vm->onswitch != NULL)) vm->onswitch(t->L, vm->onswitch_ud);
#if !LG_UCONTEXT
  if (t->sh && t->sh->occupant != t) {
    if (self->sh != t->sh) {
      lg_place(t);
    } else {			/* we run on t's stack: the switcher copies */
      vm->hopto = t;
      vm->nhops++;
      to = &vm->swctx;
      arg = vm;
      ts = &vm->swstack;
    }
  }
#endif
#if LG_ASAN
  vm->from = self;
  __sanitizer_start_switch_fiber(dying ? NULL : &self->fake,
				 ts ? lg_stack_lo(ts) : vm->main_lo,
				 ts ? ts->size : vm->main_size);
#else
  (void)dying;
#endif
  lg_ctx_swap(&self->ctx, to, arg);
  lg_arrived(vm, self);
}

static int lg_isexit(lua_State *L, lg_vm *vm, int idx)
{
  int r;
  idx = lg_absindex(L, idx);
  lg_getr(L, vm, LG_R_EXIT);				/* exit */
  r = lua_rawequal(L, idx, -1);
  lua_pop(L, 1);
  return r;
}

/* Record the greenlet at idx as running: the anchor keeps it alive. */
static void lg_anchor(lua_State *L, lg_vm *vm, int idx)
{
  lua_pushvalue(L, idx);				/* g */
  lg_setr(L, vm, LG_R_CURRENT);
}

/* Give a new greenlet (userdata at idx on L) its stack and a context that
** enters lg_greenlet_main (on a shared stack: when it is first placed).
** From now until it dies it needs its __gc (an
** unreachable suspended greenlet is killed); new and dead ones do not, and
** without one the collector frees them in one cycle, with no finalizer
** call.  Returns 0 or an errno. */
static int lg_start(lua_State *L, int idx, lg_vm *vm, lg_greenlet *g)
{
  int err;
#if !LG_UCONTEXT
  if (g->shared) {
    if ((err = lg_pickshared(vm, g))) return err;
  } else
#endif
  {
    if ((err = lg_stack_get(&vm->pool, g->stacksize, &g->stack))) return err;
    g->stack.label = g->name;
    g->stack.owner = g;
    lg_ctx_make(&g->ctx, lg_stack_lo(&g->stack), g->stack.size,
		lg_greenlet_main);
  }
#if !LG_LUA52	/* 5.2+ register finalizers at setmetatable, in O(objects) */
  lg_getr(L, vm, LG_R_METAGC);				/* mt */
  lua_setmetatable(L, idx);
#else
  (void)L; (void)idx;
#endif
  g->status = LG_ACTIVE;
  lg_debug_link(vm, g);
  g->Lsw = g->L;		/* its arguments go after the function */
  g->next = vm->live.next;	/* link into the list of stack holders */
  g->prev = &vm->live;
  vm->live.next->prev = g;
  vm->live.next = g;
  vm->nlive++;
  return 0;
}

static void lg_unlink(lg_greenlet *g)
{
  g->prev->next = g->next;
  g->next->prev = g->prev;
  g->prev = g->next = NULL;
}

/* Replace the greenlet at idx by the nearest live one up its parent chain. */
static lg_greenlet *lg_liveparent(lua_State *L, int idx)
{
  lg_greenlet *p;
  do {
    lg_getslot(L, idx, LG_SLOT_PARENT);		/* .. parent */
    lua_replace(L, idx);
    p = (lg_greenlet *)lua_touserdata(L, idx);
  } while (p->status == LG_DEAD);
  return p;
}

/* The slow cases of a switch: t never started, or is the running greenlet,
** or an error is thrown into one that never started (it dies, and the error
** goes up its parent chain).  Returns the greenlet to resume, its userdata
** at *tidx, or NULL when nothing is to be switched. */
static LG_NOINLINE lg_greenlet *lg_target(lua_State *L, lg_vm *vm, lg_greenlet *t,
			      int *tidx, int *kind)
{
  for (;;) {
    if (t == vm->current) return NULL;	/* values stay where they are */
    if (t->status == LG_ACTIVE) return t;
    if (*kind == LG_XERROR) {
      t->status = LG_DEAD;
      if (lg_isexit(L, vm, -1)) *kind = LG_XVALUES;
      lua_pushvalue(L, *tidx);				/* .. err t */
      lua_insert(L, -2);				/* .. t err */
      *tidx = lua_gettop(L) - 1;
      t = lg_liveparent(L, *tidx);
      continue;
    }
    {
      int err = lg_start(L, *tidx, vm, t);
      if (err) {
	char msg[320];
	lg_stack_strerror(&vm->pool, err, t->stacksize, msg, sizeof(msg));
	luaL_error(L, "%s", msg);
      }
    }
    return t;
  }
}

/* The switch proper, from a C function on L (no context checks here).
** placed: the values are already where t will take them. */
static inline int lg_switchto(lua_State *L, lg_vm *vm, lg_greenlet *t,
			      int tidx, int n, int kind, int placed)
{
  lg_greenlet *self = vm->current;
  if (LG_UNLIKELY(t->status != LG_ACTIVE || t == self)) {
    t = lg_target(L, vm, t, &tidx, &kind);
    if (t == NULL) return kind == LG_XERROR ? -1 : n;
  }
  if (n > 0 && !placed) {
    if (!lua_checkstack(t->Lsw, n + LUA_MINSTACK))
      luaL_error(L, "too many values to switch (%d)", n);
    lua_xmove(L, t->Lsw, n);
  }
  vm->nxfer = n;
  vm->xkind = kind;
  lua_pushvalue(L, tidx);	/* the running greenlet is kept alive */
  lg_setr(L, vm, LG_R_CURRENT);
  self->Lsw = L;
  lg_swap(vm, self, t, 0);
  /* Resumed: whoever switched here set nxfer/xkind and pushed onto L. */
  return vm->xkind == LG_XERROR ? -1 : vm->nxfer;
}

/* Print an error that has nowhere to go (a collected greenlet's). */
static void lg_report(lua_State *L, const char *what)
{
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "lgreen: %s: %s\n", what, msg ? msg : luaL_typename(L, -1));
  fflush(stderr);
}

/* Kill the unreachable suspended greenlets queued by __gc: each gets
** GreenletExit with the running greenlet as its parent, so its cleanup
** runs and its stack returns to the pool.  What comes back is dropped. */
static LG_NOINLINE void lg_reap(lua_State *L, lg_vm *vm)
{
  int top = lua_gettop(L);
  while (vm->nzombies > 0) {
    lg_greenlet *z;
    int zi;
    lg_getr(L, vm, LG_R_ZOMBIES);			/* zs */
    lua_rawgeti(L, -1, vm->nzombies);			/* zs z */
    lua_pushnil(L);
    lua_rawseti(L, -3, vm->nzombies--);		/* zs z */
    zi = lua_gettop(L);
    z = (lg_greenlet *)lua_touserdata(L, zi);
    z->zombie = 0;
    if (z->status == LG_ACTIVE) {
      lg_getr(L, vm, LG_R_CURRENT);			/* zs z cur */
      lg_setslot(L, zi, LG_SLOT_PARENT);		/* zs z */
      z->parent = vm->current;
      lg_getr(L, vm, LG_R_EXIT);			/* zs z exit */
      if (lg_switchto(L, vm, z, zi, 1, LG_XERROR, 0) < 0 &&
	  !lg_isexit(L, vm, -1))
	lg_report(L, "error in a collected greenlet");
      if (z->status != LG_DEAD) {	/* it refused to die: keep it, leaked */
	lua_settop(L, zi);
	lg_getr(L, vm, LG_R_REFUSED);			/* zs z refused */
	lua_pushvalue(L, zi);
	lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
      }
    }
    lua_settop(L, top);
  }
}

void lg_greenlet_checksafe(lua_State *L, lg_vm *vm)
{
  if (LG_UNLIKELY(lg_unsafe(L, vm)))
    luaL_error(L, "cannot switch greenlets inside a __gc finalizer or a "
		  "debug hook");
}

int lg_greenlet_switch(lua_State *L, lg_vm *vm, lg_greenlet *t, int tidx,
		       int n, int kind)
{
  lg_greenlet_checksafe(L, vm);
  if (LG_UNLIKELY(vm->nzombies > 0)) lg_reap(L, vm);
  return lg_switchto(L, vm, t, tidx, n, kind, 0);
}

int lg_greenlet_switchsafe(lua_State *L, lg_vm *vm, lg_greenlet *t, int tidx,
			   int n, int kind)
{
  if (LG_UNLIKELY(vm->nzombies > 0)) lg_reap(L, vm);
  return lg_switchto(L, vm, t, tidx, n, kind, 0);
}

int lg_greenlet_resume(lua_State *L, lg_vm *vm, lg_greenlet *t, int tidx,
		       int n, int kind)
{
  if (LG_UNLIKELY(vm->nzombies > 0)) lg_reap(L, vm);
  return lg_switchto(L, vm, t, tidx, n, kind, 1);
}

void lg_greenlet_cancel(lg_greenlet *g)
{
  if (g->status == LG_NEW) g->status = LG_DEAD;
}

void lg_greenlet_resync(lua_State *L)
{
  lua_pushcfunction(L, lg_noop);	/* re-sync LuaJIT's cur_L to L */
  lua_call(L, 0, 0);
}

int lg_greenlet_raise(lua_State *L)
{
  lg_greenlet_resync(L);
  return lua_error(L);
}

/* -- Finishing ----------------------------------------------------------- */

/* The body returned (st == 0) or raised.  Hand the results or the error to
** the nearest live parent and leave this stack for good.  Runs at the top
** of the dying greenlet's stack with no C function around it: nothing here
** may raise. */
static void lg_finish(lg_vm *vm, lg_greenlet *g, int st)
{
  lua_State *T = g->L;
  lg_greenlet *p;
  int n = lua_gettop(T), kind = LG_XVALUES;
  if (st != 0 && !lg_isexit(T, vm, -1)) kind = LG_XERROR;
  g->status = LG_DEAD;
  lua_pushnil(T);
  lua_insert(T, 1);					/* _ vals.. */
  lg_getr(T, vm, LG_R_CURRENT);				/* _ vals.. g */
  lua_replace(T, 1);					/* g vals.. */
#if !LG_LUA52
  lg_getr(T, vm, LG_R_META);		/* dead: no finalizer needed */
  lua_setmetatable(T, 1);
#endif
  for (;;) {
    int err;
    p = lg_liveparent(T, 1);				/* p vals.. */
    if (p->status == LG_ACTIVE) break;
    if (kind == LG_XERROR) {	/* an error kills an unstarted parent */
      p->status = LG_DEAD;
      continue;
    }
    if ((err = lg_start(T, 1, vm, p)) == 0) break;
    {
      char msg[320];
      lg_stack_strerror(&vm->pool, err, p->stacksize, msg, sizeof(msg));
      lua_settop(T, 1);
      lua_pushstring(T, msg);				/* p msg */
    }
    n = 1;
    kind = LG_XERROR;
    p->status = LG_DEAD;
  }
  if (!lua_checkstack(p->Lsw, n + LUA_MINSTACK)) {
    lua_settop(T, 1);
    lua_pushliteral(T, "too many results from a greenlet");
    n = 1;
    kind = LG_XERROR;
  }
  lg_anchor(T, vm, 1);
  lua_xmove(T, p->Lsw, n);
  lua_settop(T, 0);
  if (vm->onfinish) vm->onfinish(T, vm->onfinish_ud, g);
  /* The thread is clean again: keep it for the next greenlet. */
  g->L = NULL;
  g->Lsw = NULL;
  if (vm->nthreads < LG_THREADS_MAX) {	/* kept on the pool thread's stack */
    lua_pushthread(T);					/* T */
    lua_xmove(T, vm->threads, 1);
    vm->nthreads++;
  }
  lg_unlink(g);
  lg_debug_unlink(vm, g);
  vm->nlive--;
  if (g->sh) {		/* our frames are dead: nothing to save */
    g->sh->occupant = NULL;
    lg_slice_free(&g->slice);
  } else {  /* the side we resume releases our stack: we still run on it */
    vm->released = g->stack;
    g->stack.lo = NULL;
  }
  vm->nxfer = n;
  vm->xkind = kind;
  lg_swap(vm, g, p, 1);
  abort();			/* a dead greenlet is never resumed */
}

static void lg_greenlet_main(void *arg)
{
  lg_greenlet *g = (lg_greenlet *)arg;
  lg_vm *vm = g->vm;
  lg_arrived(vm, NULL);
  g->started = 1;
  lg_finish(vm, g, lua_pcall(g->L, vm->nxfer, LUA_MULTRET, 0));
}

/* -- Creation ------------------------------------------------------------ */

/* Is the value at idx a greenlet?  A magic word, not a metatable compare:
** this is on the switch path.  The size comes first: a shorter userdata's
** block ends before the word (and only C could forge the word).  No
** lua_type call: lua_touserdata is NULL for anything but a full or light
** userdata, and a light one's length is 0 on every VM. */
lg_greenlet *lg_greenlet_test(lua_State *L, int idx)
{
  lg_greenlet *g = (lg_greenlet *)lua_touserdata(L, idx);
  if (g != NULL && lua_rawlen(L, idx) == sizeof(lg_greenlet) &&
      g->magic == LG_MAGIC)
    return g;
  return NULL;
}

/* The greenlet at idx, or an argument error naming idx. */
lg_greenlet *lg_greenlet_check(lua_State *L, lg_vm *vm, int idx)
{
  lg_greenlet *g = lg_greenlet_test(L, idx);
  if (g == NULL)
    luaL_argerror(L, idx, lua_pushfstring(L, "greenlet expected, got %s",
					  luaL_typename(L, idx)));
  else if (g->vm != vm)
    luaL_argerror(L, idx, "greenlet belongs to another Lua VM");
  return g;
}



lg_greenlet *lg_greenlet_new(lua_State *L, lg_vm *vm, int fidx, int pidx,
			     size_t stacksize, int nidx)
{
  lg_greenlet *g;
  lua_State *T;
  int gi;
  fidx = lg_absindex(L, fidx);
  pidx = lg_absindex(L, pidx);
  nidx = lg_absindex(L, nidx);
  if (vm->nzombies > 0 && !lg_unsafe(L, vm)) lg_reap(L, vm);
  g = (lg_greenlet *)lg_newudata(L, sizeof(lg_greenlet));	/* g */
  memset(g, 0, sizeof(*g));
  gi = lua_gettop(L);
  g->magic = LG_MAGIC;
  lg_debug_new(vm, g, vm->current->dbg.id);
  lg_getr(L, vm, LG_LUA52 ? LG_R_METAGC : LG_R_META);	/* g mt */
  lua_setmetatable(L, gi);				/* g */
  lg_slotsbegin(L, gi);					/* g [env] */
  if (vm->nthreads > 0) {	/* a clean thread of a finished greenlet */
    lua_State *P = vm->threads;
    lua_xmove(P, L, 1);					/* g [env] T */
    vm->nthreads--;
    T = lua_tothread(L, -1);
  } else {
    T = lua_newthread(L);				/* g [env] T */
  }
  lg_exdata_clear(T);	/* no host request pointer: exdata.c */
  lg_slotput(L, gi, LG_SLOT_THREAD);			/* g [env] */
  if (pidx) lua_pushvalue(L, pidx);
  else lg_getr(L, vm, LG_R_CURRENT);			/* g [env] parent */
  g->parent = (lg_greenlet *)lua_touserdata(L, -1);
  lg_slotput(L, gi, LG_SLOT_PARENT);			/* g [env] */
  if (nidx) {
    g->name = lua_tostring(L, nidx);	/* anchored by the slot */
    lua_pushvalue(L, nidx);
    lg_slotput(L, gi, LG_SLOT_NAME);
  }
  lg_slotsend(L);					/* g */
  lua_pushvalue(L, fidx);
  lua_xmove(L, T, 1);					/* T: fn */
  g->L = T;
  g->vm = vm;
  g->status = LG_NEW;
  g->stacksize = stacksize ? stacksize : vm->pool.defsize;
  g->shared = vm->defshared && stacksize == 0;
  if (LG_UNLIKELY(vm->dbg != NULL)) lg_debug_remember(L, gi);
  return g;
}

const char *lg_greenlet_setparent(lua_State *L, int gidx, int pidx)
{
  lg_greenlet *g = (lg_greenlet *)lua_touserdata(L, gidx);
  lg_greenlet *p = (lg_greenlet *)lua_touserdata(L, pidx), *q;
  if (g == g->vm->main) return "the main greenlet has no parent";
  for (q = p; q; q = q->parent)
    if (q == g) return "cyclic parent chain";
  g->parent = p;
  lua_pushvalue(L, pidx);
  lg_setslot(L, lg_absindex(L, gidx), LG_SLOT_PARENT);
  return NULL;
}

/* -- Collection ---------------------------------------------------------- */

void lg_greenlet_collect(lua_State *L, lg_vm *vm, lg_greenlet *g)
{
  if (vm->closed || g->status != LG_ACTIVE || g == vm->current || g->zombie)
    return;
  /* Resurrect it until the next safe point kills it (lg_reap). */
  g->zombie = 1;
  lg_getr(L, vm, LG_R_ZOMBIES);				/* zs */
  lua_pushvalue(L, 1);					/* zs g */
  lua_rawseti(L, -2, ++vm->nzombies);			/* zs */
  lua_pop(L, 1);
}

/* lua_close: unmap every stack but the one we may be running on. */
static int lg_vm_gc(lua_State *L)
{
  lg_vm *vm = (lg_vm *)lua_touserdata(L, 1);
  lg_greenlet *g, *next;
  lg_shstack *mine = vm->current ? vm->current->sh : NULL;
  int i;
  vm->closed = 1;
  for (g = vm->live.next; g != &vm->live; g = next) {
    next = g->next;
    if (g->sh) lg_slice_free(&g->slice);
    else if (g != vm->current) lg_stack_unmap(&vm->pool, &g->stack);
  }
  if (vm->released.lo) lg_stack_unmap(&vm->pool, &vm->released);
  for (i = 0; i < LG_NSHARED; i++)
    if (vm->sh[i].stack.lo && &vm->sh[i] != mine)	/* we may run on it */
      lg_stack_unmap(&vm->pool, &vm->sh[i].stack);
  if (vm->swstack.lo) lg_stack_unmap(&vm->pool, &vm->swstack);
  lg_stack_drain(&vm->pool);
  return 0;
}

static int lg_isluajit(lua_State *L)
{
  int r;
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");	/* loaded */
  lua_getfield(L, -1, "jit");				/* loaded jit */
  r = lua_istable(L, -1);
  lua_pop(L, 2);
  return r || dlsym(RTLD_DEFAULT, "luaJIT_setmode") != NULL;
}

static size_t lg_defstack(lg_vm *vm)
{
  /* PUC Lua's own "C stack overflow" (200 C levels) must fire before our
  ** guard; LuaJIT runs Lua-to-Lua calls without C frames (rule 5).  200
  ** nested gsub calls (an 8 KiB luaL_Buffer each before 5.4) take about
  ** 1.8 MiB on 5.1, 5.2 and 5.3 (x86_64, measured), 0.45 MiB on 5.4. */
  if (LG_LUA54) return 512 * 1024;
  return vm->luajit ? 256 * 1024 : 2048 * 1024;
}

/* Do greenlets start on shared stacks by default?  LGREEN_STACK=private
** says no (the suite runs its core specs both ways).  The ucontext build
** never shares (stack.c). */
static int lg_defshared(lua_State *L)
{
  const char *v = getenv("LGREEN_STACK");
  if (v && *v && strcmp(v, "shared") != 0 && strcmp(v, "private") != 0)
    luaL_error(L, "LGREEN_STACK must be \"shared\" or \"private\", not "
		  "\"%s\"", v);
  return !LG_UCONTEXT && !(v && strcmp(v, "private") == 0);
}

static int lg_exit_tostring(lua_State *L)
{
  lua_pushliteral(L, "GreenletExit");
  return 1;
}

lg_vm *lg_vm_open(lua_State *L)
{
  lg_vm *vm = (lg_vm *)lua_newuserdata(L, sizeof(lg_vm));	/* vm */
  memset(vm, 0, sizeof(*vm));
  lua_createtable(L, 0, 1);				/* vm mt */
  lua_pushcfunction(L, lg_vm_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);				/* vm */
  vm->luajit = (unsigned char)lg_isluajit(L);
  vm->live.next = vm->live.prev = &vm->live;
  lg_stack_poolinit(&vm->pool, lg_defstack(vm));
  lg_stack_guardinit();
  vm->defshared = (unsigned char)lg_defshared(L);
  {
    int k;
    for (k = 1; k <= LG_R_N; k++) {	/* reserve the slots, then fill them */
      lua_pushboolean(L, 0);
      vm->r[k] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
  }
  lua_newtable(L);
  lg_setr(L, vm, LG_R_ZOMBIES);
  vm->threads = lua_newthread(L);	/* its stack holds pooled threads */
  lua_checkstack(vm->threads, LG_THREADS_MAX + LUA_MINSTACK);
  lg_setr(L, vm, LG_R_THREADS);
  lua_newtable(L);
  lg_setr(L, vm, LG_R_REFUSED);
  lua_pushcfunction(L, lg_noop);
  lg_setr(L, vm, LG_R_NOOP);
  lua_newtable(L);					/* vm exit */
  lua_createtable(L, 0, 2);				/* vm exit mt */
  lua_pushcfunction(L, lg_exit_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "GreenletExit");
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, -2);				/* vm exit */
  lg_setr(L, vm, LG_R_EXIT);				/* vm */
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "lgreen.vm");	/* keeps vm alive */
  return vm;
}

/* Make the main greenlet for the state L runs on; R[META] must be set. */
void lg_vm_makemain(lua_State *L, lg_vm *vm)
{
  lg_greenlet *m = (lg_greenlet *)lg_newudata(L, sizeof(lg_greenlet)); /* m */
  memset(m, 0, sizeof(*m));
  m->magic = LG_MAGIC;
  lg_getr(L, vm, LG_R_META);				/* m mt */
  lua_setmetatable(L, -2);				/* m */
  lua_pushvalue(L, -1);
  lg_setr(L, vm, LG_R_MAIN);
  lg_setr(L, vm, LG_R_CURRENT);			/* */
  m->L = m->Lsw = L;
  m->vm = vm;
  m->status = LG_ACTIVE;
  m->started = 1;
  m->name = "main";
  lg_debug_new(vm, m, 0);
  lg_debug_link(vm, m);
  vm->main = vm->current = m;
}
