/*
** greenlet.h — greenlet lifecycle: create, switch, throw, finish, collect.
**
** Every greenlet is a full userdata holding an lg_greenlet.  Its references
** to other Lua objects live in slots of that userdata (compat.h), so the GC
** sees them: slot 1 its thread, slot 2 its parent, slot 3 its name.
*/
#ifndef LG_GREENLET_H
#define LG_GREENLET_H

#include "compat.h"
#include "debug.h"
#include "stack.h"
#include "switch.h"

#define LG_SLOT_THREAD	1
#define LG_SLOT_PARENT	2
#define LG_SLOT_NAME	3

/* Registry slots of a VM: vm->r[LG_R_x] is the registry index of x. */
#define LG_R_CURRENT	1	/* running greenlet: kept alive while it runs */
#define LG_R_MAIN	2	/* the main greenlet */
#define LG_R_EXIT	3	/* GreenletExit */
#define LG_R_ZOMBIES	4	/* unreachable suspended greenlets to kill */
#define LG_R_META	5	/* metatable of greenlets not running code */
#define LG_R_THREADS	6	/* vm->threads, whose stack pools clean threads */
#define LG_R_REFUSED	7	/* zombies that survived GreenletExit (leaked) */
#define LG_R_NOOP	8	/* a C function that does nothing */
#define LG_R_METAGC	9	/* the same with __gc: started, not dead */
#define LG_R_N		9

#define LG_MAGIC	0x6c677265656e6c74ULL	/* "lgreenlt": lg_greenlet.magic */

#define LG_HUBAREA	136	/* bytes of lg_greenlet.hub: an lg_hubnode */

enum { LG_NEW, LG_ACTIVE, LG_DEAD };	/* lg_greenlet.status */
enum { LG_XVALUES, LG_XERROR };		/* lg_vm.xkind */

#define LG_NSHARED	4	/* shared stacks per VM (stack.c's rules) */

/* A shared stack and the greenlet whose frames are in place on it. */
typedef struct lg_shstack {
  lg_stack stack;		/* lo == NULL until first used */
  struct lg_greenlet *occupant;	/* NULL: no live frames on it */
} lg_shstack;

typedef struct lg_greenlet {
  unsigned long long magic;	/* LG_MAGIC: cheap type check with the size */
  lg_ctx ctx;			/* machine context while suspended */
  lg_stack stack;		/* own C stack; lo == NULL: none (main, new,
				   shared) */
  lg_shstack *sh;		/* the shared stack it is pinned to, or NULL */
  lg_slice slice;		/* its frames while off sh */
  lua_State *L;			/* own thread (main: the VM's state) */
  lua_State *Lsw;		/* state whose C function it is suspended in */
  struct lg_greenlet *parent;	/* gets results and errors; NULL for main */
  struct lg_vm *vm;		/* the VM it belongs to */
  struct lg_greenlet *prev, *next; /* list of greenlets holding a stack */
  size_t stacksize;		/* usable stack bytes it runs with */
  unsigned char status;		/* LG_NEW, LG_ACTIVE or LG_DEAD */
  unsigned char started;	/* its function was entered */
  unsigned char zombie;		/* unreachable; waits in LG_R_ZOMBIES */
  unsigned char shared;		/* will start on a shared stack */
  const char *name;		/* g.name (anchored in slot 3), or NULL */
  /* Owned by the hub layer (hub.c's lg_hubnode): the greenlet layer only
  ** zeroes it.  Embedded so that parking allocates nothing. */
  union { unsigned char b[LG_HUBAREA]; double align; void *p; } hub;
  lg_dbgnode dbg;		/* registry, ids, accounting (debug.h) */
#if LG_ASAN
  void *fake;			/* ASan fake stack while suspended */
#endif
} lg_greenlet;

typedef struct lg_vm {
  lg_greenlet *current;		/* running greenlet */
  lg_greenlet *main;		/* greenlet of the VM's own C stack */
  lg_greenlet live;		/* head of the list of greenlets with stacks */
  int r[LG_R_N + 1];		/* registry indices of the LG_R_x values */
  int nxfer;			/* values handed over by the last switch */
  int xkind;			/* LG_XVALUES, or LG_XERROR: raise the value */
  int nzombies;			/* entries in LG_R_ZOMBIES */
  int nthreads;			/* threads on vm->threads's stack */
  size_t nlive;			/* greenlets started, not dead */
  lua_State *threads;		/* pool of clean threads of dead greenlets */
  /* Set by the hub: told when g finishes (on g's state, its stack empty;
  ** must not raise), so what the hub holds for g dies with it. */
  void (*onfinish)(lua_State *L, void *ud, lg_greenlet *g);
  void *onfinish_ud;
  /* Set by the host (lgreen_onswitch): told g's state as g is switched
  ** in, before it runs (no Lua calls that switch, no raise). */
  void (*onswitch)(lua_State *L, void *ud);
  void *onswitch_ud;
  unsigned char luajit;		/* 5.1 ABI loaded by LuaJIT */
  unsigned char closed;		/* lua_close ran our __gc: stacks are gone */
  lg_stackpool pool;		/* stacks of this VM */
  lg_stack released;		/* stack of a greenlet that just died */
  lua_Hook userhook;		/* the hook lg_hooktramp stands in for */
  int usermask;			/* the events it asked for */
  int inhook;			/* lg_hooktramp is running it (depth) */
  lg_shstack sh[LG_NSHARED];	/* shared stacks, mapped on first use */
  unsigned nextsh;		/* round robin over sh[] for new greenlets */
  unsigned char defshared;	/* greenlets start on shared stacks */
  lg_ctx swctx;			/* the switcher: copies slices for a hop */
  lg_stack swstack;		/* its private stack, mapped on first hop */
  lg_greenlet *hopto;		/* who the switcher places and resumes */
  size_t nplaced, nhops;	/* slices placed, hops through the switcher */
  lg_debug *dbg;		/* accounting on (debug.c), or NULL */
  struct lg_greenlet *dbghead;	/* registry of started greenlets */
  unsigned long long dbgids;	/* last greenlet id given */
#if LG_ASAN
  void *swfake;			/* the switcher's ASan fake stack */
  const void *main_lo;		/* main C stack bounds, learnt from ASan */
  size_t main_size;
  lg_greenlet *from;		/* the side that switched last */
#endif
} lg_vm;

/* Create the VM state and push its userdata. */
lg_vm *lg_vm_open(lua_State *L);
/* Make the main greenlet for the state L runs on (R[META] must be set). */
void lg_vm_makemain(lua_State *L, lg_vm *vm);

/* Push a new greenlet running the function at fidx; parent at pidx (0: the
** current greenlet), stack size in bytes (0: default), name at nidx (0:
** none).  Raises on bad stack_size. */
lg_greenlet *lg_greenlet_new(lua_State *L, lg_vm *vm, int fidx, int pidx,
			     size_t stacksize, int nidx);

/* Switch from the running C function (on L) to t (its userdata at tidx), handing
** it the top n values of L, as values or (LG_XERROR, n == 1) as an error to
** raise there.  Returns how many values came back on top of L, or -1 when
** the top of L is an error to raise with lg_greenlet_raise. */
int lg_greenlet_switch(lua_State *L, lg_vm *vm, lg_greenlet *t, int tidx,
		       int n, int kind);

/* As lg_greenlet_switch, for a C function that called
** lg_greenlet_checksafe already (a wait does, before it changes state). */
int lg_greenlet_switchsafe(lua_State *L, lg_vm *vm, lg_greenlet *t, int tidx,
			   int n, int kind);

/* Raise unless switching is safe here (not in a __gc finalizer or a debug
** hook).  Waits call it before they change any state, so that a refused
** wait leaves nothing behind. */
void lg_greenlet_checksafe(lua_State *L, lg_vm *vm);

/* greenlet._hook(what [, thread]): wrap or unwrap a thread's debug hook. */
int lg_greenlet_hook(lua_State *L, lg_vm *vm);

/* As lg_greenlet_switch, but the n values are already on top of t->Lsw (t
** suspended) or after the function on t->L (t new): the hub uses it to
** resume a greenlet that its waker has already handed values to. */
int lg_greenlet_resume(lua_State *L, lg_vm *vm, lg_greenlet *t, int tidx,
		       int n, int kind);

/* End a greenlet that never started, without running it or switching. */
void lg_greenlet_cancel(lg_greenlet *g);

/* The greenlet at idx, or NULL; the greenlet at idx, or an argument error
** naming idx (also for a greenlet of another VM). */
lg_greenlet *lg_greenlet_test(lua_State *L, int idx);
lg_greenlet *lg_greenlet_check(lua_State *L, lg_vm *vm, int idx);

/* Raise the value on top of L after a switch (re-syncs LuaJIT first). */
int lg_greenlet_raise(lua_State *L);
/* After a switch, before anything that may raise (an allocation, an
** argument error): make LuaJIT's cur_L L again (DESIGN rule 2). */
void lg_greenlet_resync(lua_State *L);

/* Set the parent of the greenlet at gidx to the one at pidx; NULL or a
** message saying why not. */
const char *lg_greenlet_setparent(lua_State *L, int gidx, int pidx);
/* exdata.c: clear OpenResty's LuaJIT per-thread pointer in T, if any. */
void lg_exdata_clear(lua_State *T);

/* __gc of a greenlet: queue a suspended one to be killed. */
void lg_greenlet_collect(lua_State *L, lg_vm *vm, lg_greenlet *g);

/* Push registry slot k; pop a value into it. */
#define lg_getr(L, vm, k)	lua_rawgeti((L), LUA_REGISTRYINDEX, (vm)->r[k])
#define lg_setr(L, vm, k)	lua_rawseti((L), LUA_REGISTRYINDEX, (vm)->r[k])

#endif
