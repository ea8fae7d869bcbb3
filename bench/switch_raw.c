/*
** switch_raw.c — raw context switch cost: lgreen's lg_ctx_swap (asm, or
** ucontext when built with -DLG_UCONTEXT=1) against glibc swapcontext.
** Prints one line per measurement: "<name> <ns per one-way switch>".
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>
#include <sys/mman.h>

#include "../c/switch.h"

#define N 10000000L
#define STACK (64 * 1024)

static lg_ctx mainctx, coctx;
static ucontext_t umain, uco;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void lg_body(void *arg)
{
  for (;;) arg = lg_ctx_swap(&coctx, &mainctx, (char *)arg + 1);
}

static void uc_body(void)
{
  for (;;) swapcontext(&uco, &umain);
}

int main(void)
{
  char *s1 = mmap(NULL, STACK, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *s2 = mmap(NULL, STACK, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *v = NULL;
  double t;
  long i;
  lg_ctx_make(&coctx, s1, STACK, lg_body);
  t = now();
  for (i = 0; i < N; i++) v = lg_ctx_swap(&mainctx, &coctx, v);
  t = now() - t;
  if ((long)(char *)v != N) { fprintf(stderr, "lost a switch\n"); return 1; }
  printf("%s %.2f\n", LG_UCONTEXT ? "lg_ctx_swap(ucontext)" : "lg_ctx_swap(asm)",
	 t / N / 2 * 1e9);
  getcontext(&uco);
  uco.uc_stack.ss_sp = s2;
  uco.uc_stack.ss_size = STACK;
  uco.uc_link = NULL;
  makecontext(&uco, uc_body, 0);
  t = now();
  for (i = 0; i < N; i++) swapcontext(&umain, &uco);
  t = now() - t;
  printf("swapcontext %.2f\n", t / N / 2 * 1e9);
  return 0;
}
