/*
** switch_check.c — the context switch alone (c/switch.h), no Lua: arg and
** return values over 1,000,000 ping-pong switches, callee-saved integer and
** FP registers across a switch (explicit asm and -O2 register pressure),
** 16-byte stack alignment at a new context's entry, floating-point control
** state per context.  Runs on x86_64 and aarch64, asm switch or ucontext.
** Prints TAP; exits non-zero on failure.
** Build: cc -O2 -Wall -o /tmp/sc spec/c/switch_check.c c/switch.c \
**          c/switch_x86_64.S c/switch_aarch64.S
**        (or -DLG_UCONTEXT=1 with c/switch.c only;
**         spec/c/check_aarch64.sh cross-builds it and runs it under qemu)
*/
#define _GNU_SOURCE
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../../c/switch.h"

#if defined(__clang__)
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noinline, noipa))
#endif

#define STACK (256 * 1024)
#define NPING 1000000L

static lg_ctx mainctx, co;
static char *stk;
static int ntest, nfail;
static const char *current = "setup";

static void ok(int cond, const char *what)
{
  ntest++;
  if (!cond) nfail++;
  printf("%sok %d - %s\n", cond ? "" : "not ", ntest, what);
  fflush(stdout);
}

/* A crash (misaligned SSE store, brk, bad return address) is a failure too. */
static void on_signal(int sig)
{
  char buf[160];
  int n = snprintf(buf, sizeof buf, "Bail out! signal %d during: %s\n",
		   sig, current);
  if (write(1, buf, n) < 0) _exit(3);
  _exit(2);
}

static void catch_crashes(void)
{
  static char alt[64 * 1024];
  stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt };
  struct sigaction sa;
  int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT };
  unsigned i;
  sigaltstack(&ss, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_ONSTACK;
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

/* A context that has finished its test parks here: fn must never return. */
static void park(void)
{
  for (;;) lg_ctx_swap(&co, &mainctx, NULL);
}

/* ---- (c) entry: arg delivered, stack 16-byte aligned ------------------- */

typedef double v2d __attribute__((vector_size(16)));

static int entry_arg_ok, entry_align_ok;

static NOIPA int aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

static NOIPA int vector_work(double x)
{
  volatile v2d v = { x, x + 1 };	/* movapd/str q to a 16-aligned slot */
  __attribute__((aligned(16))) char buf[32];
  volatile long double ld = x;		/* 16-byte object on the stack */
  v2d w;
  memset(buf, 1, sizeof buf);
  w = v * v;
  ld *= 3;
  return aligned16(buf) && aligned16((const void *)&v) && w[1] == (x + 1) * (x + 1)
	 && ld == (long double)x * 3;
}

static void co_entry(void *arg)
{
  int a = aligned16(__builtin_frame_address(0));
#if defined(__aarch64__)
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  a = a && (sp & 15) == 0;
#endif
  entry_arg_ok = arg == (void *)&mainctx;
  entry_align_ok = a && vector_work(2.5);
  park();
}

static void test_entry(void)
{
  int k, arg = 1, align = 1;
  current = "entry";
  for (k = 0; k < 16; k++) {	/* every misalignment of the stack top */
    entry_arg_ok = entry_align_ok = 0;
    lg_ctx_make(&co, stk + (k & 3), STACK - k - (k & 3), co_entry);
    lg_ctx_swap(&mainctx, &co, &mainctx);
    arg &= entry_arg_ok;
    align &= entry_align_ok;
  }
  ok(arg, "new context receives the first swap's arg");
  ok(align, "new context entry: frame and sp 16-byte aligned, aligned vector "
	    "stores work (16 stack-top offsets)");
}

/* ---- (a) values both ways over 1,000,000 switches ---------------------- */

static uintptr_t co_sum, co_seqbad;

static void co_ping(void *arg)
{
  uintptr_t x = (uintptr_t)arg, prev = 0;
  for (;;) {
    co_sum += x;
    co_seqbad += x != prev + 1;
    prev = x;
    x = (uintptr_t)lg_ctx_swap(&co, &mainctx, (void *)(x * 2 + 1));
  }
}

static void test_ping(void)
{
  uintptr_t i, sum = 0, bad = 0, r;
  current = "ping-pong";
  lg_ctx_make(&co, stk, STACK, co_ping);
  for (i = 1; i <= NPING; i++) {
    r = (uintptr_t)lg_ctx_swap(&mainctx, &co, (void *)i);
    bad += r != i * 2 + 1;
    sum += r;
  }
  ok(co_sum == NPING * (NPING + 1) / 2 && co_seqbad == 0,
     "1000000 switches: every arg arrives, in order, exact checksum");
  ok(sum == NPING * (NPING + 1) + NPING && bad == 0,
     "1000000 switches: every return value arrives, exact checksum");
}

/* ---- (b) callee-saved registers: explicit asm -------------------------- */

/* regs_swap(a, b, arg, in, out): load the callee-saved registers from in[],
** switch (lg_switch_swap(a, b, arg), or lg_ctx_swap via regs_tramp on the
** ucontext build), store the same registers to out[] once resumed. */
void *regs_swap(void *a, void *b, void *arg, const uint64_t *in, uint64_t *out)
  __attribute__((visibility("hidden")));

#if LG_UCONTEXT
void *regs_tramp(void *from, void *to, void *arg)
  __attribute__((visibility("hidden"), used, noinline));
void *regs_tramp(void *from, void *to, void *arg)
{
  return lg_ctx_swap(from, to, arg);
}
#define REGS_SWAP(from, to, in, out) regs_swap(from, to, NULL, in, out)
#define SWAP_SYM "regs_tramp"
#else
#define REGS_SWAP(from, to, in, out) regs_swap(&(from)->sp, (to)->sp, NULL, in, out)
#define SWAP_SYM "lg_switch_swap"
#endif

#if defined(__x86_64__)
#define NREG 6	/* rbx rbp r12 r13 r14 r15 */
__asm__(
  "	.text\n"
  "	.globl	regs_swap\n"
  "	.hidden	regs_swap\n"
  "	.type	regs_swap, @function\n"
  "regs_swap:\n"			/* rdi rsi rdx: swap args; rcx in; r8 out */
  "	pushq	%rbp\n"
  "	pushq	%rbx\n"
  "	pushq	%r12\n"
  "	pushq	%r13\n"
  "	pushq	%r14\n"
  "	pushq	%r15\n"
  "	pushq	%r8\n"			/* out; rsp is 16-aligned again */
  "	movq	0(%rcx), %rbx\n"
  "	movq	8(%rcx), %rbp\n"
  "	movq	16(%rcx), %r12\n"
  "	movq	24(%rcx), %r13\n"
  "	movq	32(%rcx), %r14\n"
  "	movq	40(%rcx), %r15\n"
  "	call	" SWAP_SYM "\n"
  "	popq	%r8\n"
  "	movq	%rbx, 0(%r8)\n"
  "	movq	%rbp, 8(%r8)\n"
  "	movq	%r12, 16(%r8)\n"
  "	movq	%r13, 24(%r8)\n"
  "	movq	%r14, 32(%r8)\n"
  "	movq	%r15, 40(%r8)\n"
  "	popq	%r15\n"
  "	popq	%r14\n"
  "	popq	%r13\n"
  "	popq	%r12\n"
  "	popq	%rbx\n"
  "	popq	%rbp\n"
  "	ret\n"
  "	.size	regs_swap, .-regs_swap\n");
#elif defined(__aarch64__)
#define NREG 19	/* x19-x28, d8-d15, x29 */
__asm__(
  "	.text\n"
  "	.globl	regs_swap\n"
  "	.hidden	regs_swap\n"
  "	.type	regs_swap, %function\n"
  "	.p2align 2\n"
  "regs_swap:\n"			/* x0 x1 x2: swap args; x3 in; x4 out */
  "	stp	x29, x30, [sp, #-176]!\n"
  "	stp	x19, x20, [sp, #16]\n"
  "	stp	x21, x22, [sp, #32]\n"
  "	stp	x23, x24, [sp, #48]\n"
  "	stp	x25, x26, [sp, #64]\n"
  "	stp	x27, x28, [sp, #80]\n"
  "	stp	d8, d9, [sp, #96]\n"
  "	stp	d10, d11, [sp, #112]\n"
  "	stp	d12, d13, [sp, #128]\n"
  "	stp	d14, d15, [sp, #144]\n"
  "	str	x4, [sp, #160]\n"
  "	ldp	x19, x20, [x3, #0]\n"
  "	ldp	x21, x22, [x3, #16]\n"
  "	ldp	x23, x24, [x3, #32]\n"
  "	ldp	x25, x26, [x3, #48]\n"
  "	ldp	x27, x28, [x3, #64]\n"
  "	ldp	d8, d9, [x3, #80]\n"
  "	ldp	d10, d11, [x3, #96]\n"
  "	ldp	d12, d13, [x3, #112]\n"
  "	ldp	d14, d15, [x3, #128]\n"
  "	ldr	x29, [x3, #144]\n"
  "	bl	" SWAP_SYM "\n"
  "	ldr	x4, [sp, #160]\n"
  "	stp	x19, x20, [x4, #0]\n"
  "	stp	x21, x22, [x4, #16]\n"
  "	stp	x23, x24, [x4, #32]\n"
  "	stp	x25, x26, [x4, #48]\n"
  "	stp	x27, x28, [x4, #64]\n"
  "	stp	d8, d9, [x4, #80]\n"
  "	stp	d10, d11, [x4, #96]\n"
  "	stp	d12, d13, [x4, #112]\n"
  "	stp	d14, d15, [x4, #128]\n"
  "	str	x29, [x4, #144]\n"
  "	ldp	x19, x20, [sp, #16]\n"
  "	ldp	x21, x22, [sp, #32]\n"
  "	ldp	x23, x24, [sp, #48]\n"
  "	ldp	x25, x26, [sp, #64]\n"
  "	ldp	x27, x28, [sp, #80]\n"
  "	ldp	d8, d9, [sp, #96]\n"
  "	ldp	d10, d11, [sp, #112]\n"
  "	ldp	d12, d13, [sp, #128]\n"
  "	ldp	d14, d15, [sp, #144]\n"
  "	ldp	x29, x30, [sp], #176\n"
  "	ret\n"
  "	.size	regs_swap, .-regs_swap\n");
#else
#error "switch_check.c: add a regs_swap for this architecture"
#endif

static uint64_t main_in[NREG], co_in1[NREG], co_in2[NREG];
static int co_regs_ok;

static void fill(uint64_t *v, uint64_t tag)
{
  int k;
  for (k = 0; k < NREG; k++) v[k] = tag ^ ((uint64_t)(k + 1) * 0x0101010101010101ull);
}

/* co and main each switch from inside regs_swap, holding different
** constants, so every resume lands where the other side's values sat. */
static void co_regs(void *arg)
{
  uint64_t out[NREG];
  int good;
  REGS_SWAP(&co, &mainctx, co_in1, out);	/* -> main's plain swap */
  good = memcmp(out, co_in1, sizeof out) == 0;
  REGS_SWAP(&co, &mainctx, co_in2, out);	/* -> main's regs_swap */
  co_regs_ok = good && memcmp(out, co_in2, sizeof out) == 0;
  park();
}

static void test_regs(void)
{
  uint64_t out[NREG];
  current = "callee-saved registers (asm)";
  fill(main_in, 0x4d41494e00000000ull);	/* "MAIN" */
  fill(co_in1, 0x434f313100000000ull);	/* "CO11" */
  fill(co_in2, 0x434f323200000000ull);	/* "CO22" */
  co_regs_ok = 0;
  lg_ctx_make(&co, stk, STACK, co_regs);
  lg_ctx_swap(&mainctx, &co, NULL);		/* co loads co_in1, swaps back */
  REGS_SWAP(&mainctx, &co, main_in, out);	/* co loads co_in2, swaps back */
  ok(memcmp(out, main_in, sizeof out) == 0,
#if defined(__x86_64__)
     "rbx rbp r12-r15 survive a switch (asm)"
#else
     "x19-x29 d8-d15 survive a switch (asm)"
#endif
     );
  lg_ctx_swap(&mainctx, &co, NULL);		/* co checks co_in2, parks */
  ok(co_regs_ok, "the other context's callee-saved registers survive too");
}

/* ---- (b) callee-saved registers: -O2 register pressure ----------------- */

static NOIPA long ol(long x) { return x; }
static NOIPA double od(double x) { return x; }

#define L(n) ol(seed ^ (n * 0x1111L))
#define D(n) od((double)seed * (n + 0.25))

/* Twelve longs and ten doubles live across the swap: the compiler keeps
** what it can in callee-saved registers (x19-x28, d8-d15 on aarch64). */
static NOIPA int pressure(long seed, lg_ctx *from, lg_ctx *to)
{
  long a0 = L(1), a1 = L(2), a2 = L(3), a3 = L(4), a4 = L(5), a5 = L(6);
  long a6 = L(7), a7 = L(8), a8 = L(9), a9 = L(10), a10 = L(11), a11 = L(12);
  double f0 = D(1), f1 = D(2), f2 = D(3), f3 = D(4), f4 = D(5);
  double f5 = D(6), f6 = D(7), f7 = D(8), f8 = D(9), f9 = D(10);
  int bad = 0;
  lg_ctx_swap(from, to, NULL);
  bad += a0 != (seed ^ 0x1111L);
  bad += a1 != (seed ^ 0x2222L);
  bad += a2 != (seed ^ 0x3333L);
  bad += a3 != (seed ^ 0x4444L);
  bad += a4 != (seed ^ 0x5555L);
  bad += a5 != (seed ^ 0x6666L);
  bad += a6 != (seed ^ 0x7777L);
  bad += a7 != (seed ^ 0x8888L);
  bad += a8 != (seed ^ 0x9999L);
  bad += a9 != (seed ^ 0xaaaaL);
  bad += a10 != (seed ^ 0xbbbbL);
  bad += a11 != (seed ^ 0xccccL);
  bad += f0 != (double)seed * 1.25;
  bad += f1 != (double)seed * 2.25;
  bad += f2 != (double)seed * 3.25;
  bad += f3 != (double)seed * 4.25;
  bad += f4 != (double)seed * 5.25;
  bad += f5 != (double)seed * 6.25;
  bad += f6 != (double)seed * 7.25;
  bad += f7 != (double)seed * 8.25;
  bad += f8 != (double)seed * 9.25;
  bad += f9 != (double)seed * 10.25;
  return bad;
}

static int co_pressure_ok;

static void co_press(void *arg)
{
  int bad = pressure(0x600d, &co, &mainctx);	/* -> main's plain swap */
  bad += pressure(0xbeef, &co, &mainctx);	/* -> main's pressure() */
  co_pressure_ok = bad == 0;
  park();
}

static void test_pressure(void)
{
  int bad;
  current = "callee-saved registers (register pressure)";
  co_pressure_ok = 0;
  lg_ctx_make(&co, stk, STACK, co_press);
  lg_ctx_swap(&mainctx, &co, NULL);
  bad = pressure(0x5eed, &mainctx, &co);
  ok(bad == 0, "12 longs and 10 doubles live across a switch (-O2 pressure)");
  lg_ctx_swap(&mainctx, &co, NULL);
  ok(co_pressure_ok, "the other context's live values survive too");
}

/* ---- (d) floating-point control state ---------------------------------- */

/* glibc's fegetround/fesetround live in libm and the build line has no -lm:
** these do exactly what glibc's do on each architecture (<fenv.h> still gives
** the FE_* values). */
#if defined(__x86_64__)

static int fe_getround(void)	/* glibc: the x87 control word's RC field */
{
  unsigned short cw;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  return cw & 0xc00;
}

static void fe_setround(int mode)	/* glibc: x87 RC and MXCSR RC together */
{
  unsigned short cw;
  unsigned csr;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  cw = (cw & ~0xc00) | mode;
  __asm__ volatile("fldcw %0" : : "m"(cw));
  __asm__ volatile("stmxcsr %0" : "=m"(csr));
  csr = (csr & ~0x6000u) | ((unsigned)mode << 3);
  __asm__ volatile("ldmxcsr %0" : : "m"(csr));
}

#else

static int fe_getround(void)	/* glibc: FPCR.RMode, bits 23:22 */
{
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return (int)(fpcr & 0xc00000);
}

#endif

#if defined(__x86_64__)

/* The rounding mode as the x87 control word says (fe_getround), as MXCSR
** says, and as SSE division behaves. */
static unsigned mxcsr(void)
{
  unsigned v;
  __asm__ volatile("stmxcsr %0" : "=m"(v));
  return v;
}

static int sse_rounding(void)
{
  static volatile double one = 1, three = 3, ten = 10;
  volatile double q3 = one / three, q10 = one / ten;
  /* to nearest, 1/3 rounds down and 1/10 rounds up */
  if (q3 == 0x1.5555555555555p-2 && q10 == 0x1.999999999999ap-4) return FE_TONEAREST;
  if (q3 == 0x1.5555555555555p-2 && q10 < 0x1.999999999999ap-4) return FE_TOWARDZERO;
  if (q3 > 0x1.5555555555555p-2 && q10 == 0x1.999999999999ap-4) return FE_UPWARD;
  return -1;
}

static const int mxcsr_rc[] = { [FE_TONEAREST >> 10] = 0, [FE_DOWNWARD >> 10] = 1,
				[FE_UPWARD >> 10] = 2, [FE_TOWARDZERO >> 10] = 3 };

static int rounding_is(int mode)
{
  return fe_getround() == mode && ((mxcsr() >> 13) & 3) == (unsigned)mxcsr_rc[mode >> 10]
	 && sse_rounding() == mode;
}

static int fp_fresh_ok, fp_restored_ok;

static void co_fp(void *arg)
{
  /* exception flags (low 6 bits) are status, not control */
  unsigned short cw;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  fp_fresh_ok = rounding_is(FE_TONEAREST) && (mxcsr() & ~0x3fu) == 0x1f80
		&& cw == 0x037f;
  fe_setround(FE_TOWARDZERO);
  lg_ctx_swap(&co, &mainctx, NULL);
  fp_restored_ok = rounding_is(FE_TOWARDZERO);
  park();
}

static void test_fp(void)
{
  int main_ok;
  current = "floating-point control";
  fp_fresh_ok = fp_restored_ok = 0;
  lg_ctx_make(&co, stk, STACK, co_fp);	/* made while main is to-nearest */
  fe_setround(FE_UPWARD);
  lg_ctx_swap(&mainctx, &co, NULL);	/* co sets round-toward-zero */
  main_ok = rounding_is(FE_UPWARD);
  lg_ctx_swap(&mainctx, &co, NULL);	/* co checks its own mode */
  fe_setround(FE_TONEAREST);
  ok(fp_fresh_ok, "new context starts round-to-nearest (MXCSR 0x1f80, x87 CW), "
		  "not the creator's current mode");
  ok(main_ok, "MXCSR/x87 round-toward-zero set in the other context is not seen; "
	      "own FE_UPWARD restored on switching back");
  ok(fp_restored_ok, "the other context's round-toward-zero is restored when "
		     "switched back to");
}

#else

/* AAPCS64: FPCR's rounding mode (RMode, bits 23:22) and flush-to-zero (FZ,
** bit 24) are callee-saved; the switch keeps them per context as x86_64
** keeps MXCSR.  The test mirrors the x86_64 one: the mode as FPCR says and
** as division behaves. */
static uint64_t fpcr(void)
{
  uint64_t v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  return v;
}

static void fe_setround(int mode)	/* glibc: FPCR.RMode */
{
  uint64_t v = (fpcr() & ~(uint64_t)0xc00000) | (unsigned)mode;
  __asm__ volatile("msr fpcr, %0" : : "r"(v));
}

static void set_fz(int on)		/* FPCR.FZ: subnormals flushed to zero */
{
  uint64_t v = (fpcr() & ~((uint64_t)1 << 24)) | ((uint64_t)!!on << 24);
  __asm__ volatile("msr fpcr, %0" : : "r"(v));
}

static int div_rounding(void)
{
  static volatile double one = 1, three = 3, ten = 10;
  volatile double q3 = one / three, q10 = one / ten;
  /* to nearest, 1/3 rounds down and 1/10 rounds up */
  if (q3 == 0x1.5555555555555p-2 && q10 == 0x1.999999999999ap-4) return FE_TONEAREST;
  if (q3 == 0x1.5555555555555p-2 && q10 < 0x1.999999999999ap-4) return FE_TOWARDZERO;
  if (q3 > 0x1.5555555555555p-2 && q10 == 0x1.999999999999ap-4) return FE_UPWARD;
  return -1;
}

static int flushes(void)		/* does a subnormal result become 0? */
{
  static volatile double tiny = 0x1p-1022, two = 2;
  volatile double sub = tiny / two;
  return sub == 0;
}

static int rounding_is(int mode)
{
  return fe_getround() == mode && div_rounding() == mode;
}

static int fp_fresh_ok, fp_restored_ok;

static void co_fp(void *arg)
{
  /* FPSR (exception flags) is status, not control: only FPCR is checked */
  fp_fresh_ok = rounding_is(FE_TONEAREST) && fpcr() == 0 && !flushes();
  fe_setround(FE_TOWARDZERO);
  set_fz(1);
  lg_ctx_swap(&co, &mainctx, NULL);
  fp_restored_ok = rounding_is(FE_TOWARDZERO) && flushes();
  park();
}

static void test_fp(void)
{
  int main_ok;
  current = "floating-point control";
  fp_fresh_ok = fp_restored_ok = 0;
  lg_ctx_make(&co, stk, STACK, co_fp);	/* made while main is to-nearest */
  fe_setround(FE_UPWARD);
  lg_ctx_swap(&mainctx, &co, NULL);	/* co sets round-toward-zero and FZ */
  main_ok = rounding_is(FE_UPWARD) && !flushes();
  lg_ctx_swap(&mainctx, &co, NULL);	/* co checks its own mode */
  fe_setround(FE_TONEAREST);
  ok(fp_fresh_ok, "new context starts round-to-nearest, no flush-to-zero (FPCR 0), "
		  "not the creator's current mode");
  ok(main_ok, "FPCR round-toward-zero and FZ set in the other context are not seen; "
	      "own FE_UPWARD restored on switching back");
  ok(fp_restored_ok, "the other context's round-toward-zero and FZ are restored when "
		     "switched back to");
}

#endif

int main(void)
{
  catch_crashes();
  stk = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stk == MAP_FAILED) { perror("mmap"); return 1; }
  test_entry();
  test_ping();
  test_regs();
  test_pressure();
  test_fp();
  printf("1..%d\n", ntest);
  return nfail != 0;
}
