/*
** switch_aarch64.S — greenlet context switch for AAPCS64 (Linux).
**
** void *lg_switch_swap(void **save_sp, void *sp, void *arg)
**   x0 = where to store the current stack pointer
**   x1 = stack pointer of the context to resume
**   x2 = arg, returned in x0 on the resumed side
**
** Frame of a suspended context (sp 16-byte aligned, 176 bytes):
**
**   sp+168  (padding)
**   sp+160  FPCR                (rounding mode, flush-to-zero, trap enables:
**                                callee-saved under AAPCS64 like MXCSR's
**                                control bits on x86_64; FPSR's flags are
**                                status and are not switched)
**   sp+144  x29 (fp), x30 (lr: return address)
**   sp+128  x27, x28
**   sp+112  x25, x26
**   sp+96   x23, x24
**   sp+80   x21, x22
**   sp+64   x19, x20            (x19 = fn for a new context)
**   sp+48   d14, d15
**   sp+32   d12, d13
**   sp+16   d10, d11
**   sp+0    d8,  d9
**
** lg_ctx_make lays the same frame on a fresh stack with x30 = lg_switch_entry
** and FPCR = 0 (round to nearest, no flush, no traps: Linux's default).
*/
#if defined(__aarch64__) && !LG_UCONTEXT

	.text
	.globl	lg_switch_swap
	.hidden	lg_switch_swap
	.type	lg_switch_swap, %function
	.p2align 4
lg_switch_swap:
	.cfi_startproc
	hint	#34			/* bti c: may be reached by an indirect call */
	sub	sp, sp, #176		/* room for the frame above */
	.cfi_adjust_cfa_offset 176
	stp	d8, d9, [sp, #0]	/* callee-saved FP registers (low halves) */
	stp	d10, d11, [sp, #16]
	stp	d12, d13, [sp, #32]
	stp	d14, d15, [sp, #48]
	stp	x19, x20, [sp, #64]	/* callee-saved integer registers */
	stp	x21, x22, [sp, #80]
	stp	x23, x24, [sp, #96]
	stp	x25, x26, [sp, #112]
	stp	x27, x28, [sp, #128]
	stp	x29, x30, [sp, #144]	/* frame pointer, return address */
	mrs	x10, fpcr		/* FP control: rounding, FZ, traps */
	str	x10, [sp, #160]
	mov	x9, sp
	str	x9, [x0]		/* *save_sp = sp: this context is saved */
	mov	sp, x1			/* now on the other context's stack */
	ldp	d8, d9, [sp, #0]	/* its registers */
	ldp	d10, d11, [sp, #16]
	ldp	d12, d13, [sp, #32]
	ldp	d14, d15, [sp, #48]
	ldp	x19, x20, [sp, #64]
	ldp	x21, x22, [sp, #80]
	ldp	x23, x24, [sp, #96]
	ldp	x25, x26, [sp, #112]
	ldp	x27, x28, [sp, #128]
	ldp	x29, x30, [sp, #144]
	ldr	x10, [sp, #160]		/* its FP control */
	msr	fpcr, x10
	add	sp, sp, #176
	mov	x0, x2			/* hand arg to the resumed side */
	ret				/* into its caller, or lg_switch_entry */
	.cfi_endproc
	.size	lg_switch_swap, .-lg_switch_swap

/*
** Entry of a new context: reached by the ret above with x0 = arg and
** x19 = fn.  Outermost frame: x30 undefined for unwinders, fp chain ends.
*/
	.globl	lg_switch_entry
	.hidden	lg_switch_entry
	.type	lg_switch_entry, %function
	.p2align 4
lg_switch_entry:
	.cfi_startproc
	.cfi_undefined x30		/* nothing above this frame */
	hint	#34			/* bti c */
	mov	x29, #0			/* end of the frame-pointer chain */
	mov	x30, #0
	blr	x19			/* fn(arg) */
	brk	#0			/* fn must not return */
	.cfi_endproc
	.size	lg_switch_entry, .-lg_switch_entry

#endif
	.section .note.GNU-stack,"",%progbits
