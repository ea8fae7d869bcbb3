/*
** switch_x86_64.S — greenlet context switch for the x86_64 SysV ABI.
**
** void *lg_switch_swap(void **save_sp, void *sp, void *arg)
**   rdi = where to store the current stack pointer
**   rsi = stack pointer of the context to resume
**   rdx = arg, returned in rax on the resumed side
**
** Frame of a suspended context (stack grows down, sp 16-byte aligned):
**
**   sp+56  return address      (into lg_switch_swap's caller, or the entry)
**   sp+48  rbp
**   sp+40  rbx
**   sp+32  r12                 (fn for a new context)
**   sp+24  r13
**   sp+16  r14
**   sp+8   r15
**   sp+4   x87 control word    (2 bytes, 2 bytes padding)
**   sp+0   MXCSR               (4 bytes)
**
** Only callee-saved state is kept: no signal mask, no caller-saved registers.
** lg_ctx_make (switch.c) lays the same frame on a
** fresh stack with lg_switch_entry as the return address.
*/
#if defined(__x86_64__) && !LG_UCONTEXT

	.text
	.globl	lg_switch_swap
	.hidden	lg_switch_swap
	.type	lg_switch_swap, @function
	.p2align 4
lg_switch_swap:
	.cfi_startproc
	endbr64				/* may be reached by an indirect call */
	pushq	%rbp			/* callee-saved integer registers */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp		/* room for MXCSR and x87 CW */
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)			/* SSE control/status (callee-saved bits) */
	fnstcw	4(%rsp)			/* x87 control word */
	movq	%rsp, (%rdi)		/* *save_sp = sp: this context is saved */
	movl	(%rsp), %eax		/* ours, to compare with its */
	movzwl	4(%rsp), %ecx
	movq	%rsi, %rsp		/* now on the other context's stack */
	/* ldmxcsr and fldcw are slow (serializing on some cores) and the
	** two contexts almost always hold the same values: load only what
	** differs.  The result is the same state as loading both. */
	cmpl	(%rsp), %eax
	je	1f
	ldmxcsr	(%rsp)			/* its MXCSR */
1:	cmpw	4(%rsp), %cx
	je	2f
	fldcw	4(%rsp)			/* its x87 control word */
2:	addq	$8, %rsp
	popq	%r15			/* its callee-saved registers */
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	movq	%rdx, %rax		/* hand arg to the resumed side */
	ret				/* into its caller, or lg_switch_entry */
	.cfi_endproc
	.size	lg_switch_swap, .-lg_switch_swap

/*
** Entry of a new context.  Reached by the ret above with rax = arg and
** r12 = fn.  It is the outermost frame: rip is undefined for unwinders, rbp
** is zero for frame-pointer walkers, and the call keeps 16-byte alignment
** (rsp is 16-aligned here, lg_ctx_make sees to it).
*/
	.globl	lg_switch_entry
	.hidden	lg_switch_entry
	.type	lg_switch_entry, @function
	.p2align 4
lg_switch_entry:
	.cfi_startproc
	.cfi_undefined %rip		/* nothing above this frame */
	endbr64
	xorl	%ebp, %ebp		/* end of the frame-pointer chain */
	movq	%rax, %rdi		/* fn(arg) */
	callq	*%r12
	ud2				/* fn must not return */
	.cfi_endproc
	.size	lg_switch_entry, .-lg_switch_entry

#endif
	.section .note.GNU-stack,"",%progbits
