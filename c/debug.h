/*
** debug.h — what lgreen.debug sees of every greenlet: a registry of the
** started ones, ids, and (when turned on) switch and CPU accounting and the
** blocking watchdog.
**
** The greenlet layer keeps the registry always (linking a node costs a few
** stores); everything that reads a clock happens only while vm->dbg is set,
** behind one predictable branch in the switch.
*/
#ifndef LG_DEBUG_H
#define LG_DEBUG_H

struct lg_greenlet;
struct lg_vm;
struct lg_hub;

/* Per-greenlet debug state, embedded in lg_greenlet (zeroed at creation). */
typedef struct lg_dbgnode {
  struct lg_greenlet *prev, *next;	/* registry: started, not dead */
  unsigned long long id;	/* 1, 2, 3... in creation order, per VM */
  unsigned long long pid;	/* id of the greenlet that created it */
  unsigned long long switches;	/* times it was switched out (accounting) */
  long long cpu;		/* ns it ran while accounting was on */
  long long since;		/* ns clock of its last switch in or out */
  int fd;			/* fd it waits on in lg_hub_wait_io/ev */
  unsigned char events;		/* EV_READ | EV_WRITE of that wait; 0: none */
  unsigned char linked;		/* in the registry */
} lg_dbgnode;

/* The accounting and watchdog state of a VM (debug.c). */
typedef struct lg_debug lg_debug;

/* A new greenlet gets its id, and pid: its creator's (0 for main). */
#define lg_debug_new(vm, g, pid_) \
  do { (g)->dbg.id = ++(vm)->dbgids; (g)->dbg.pid = (pid_); } while (0)

/* Registry: link a greenlet that starts (or main), unlink one that dies. */
#define lg_debug_link(vm, g) \
  do { (g)->dbg.next = (vm)->dbghead; (g)->dbg.prev = NULL; \
       if ((vm)->dbghead) (vm)->dbghead->dbg.prev = (g); \
       (vm)->dbghead = (g); (g)->dbg.linked = 1; } while (0)
#define lg_debug_unlink(vm, g) \
  do { if ((g)->dbg.linked) { \
	 if ((g)->dbg.prev) (g)->dbg.prev->dbg.next = (g)->dbg.next; \
	 else (vm)->dbghead = (g)->dbg.next; \
	 if ((g)->dbg.next) (g)->dbg.next->dbg.prev = (g)->dbg.prev; \
	 (g)->dbg.linked = 0; } } while (0)

/* The fd wait of the running greenlet, for dumps (events 0: over). */
#define lg_debug_waitfd(g, f, ev) \
  do { (g)->dbg.fd = (f); (g)->dbg.events = (unsigned char)(ev); } while (0)

/* Remember the new greenlet at gi (vm->dbg set), so that lgreen.debug can
** hand its userdata out (a weak table: no anchor). */
void lg_debug_remember(lua_State *L, int gi);

/* The switch from self to t (vm->dbg set): accounting and watchdog
** counters.  C only, no Lua API that could raise: it runs inside the
** switch. */
void lg_debug_switch(struct lg_vm *vm, struct lg_greenlet *self,
		     struct lg_greenlet *t);

#endif
