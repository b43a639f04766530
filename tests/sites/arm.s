@ SPDX-License-Identifier: BSD-2-Clause
@ A32 and T32 control transfers for the sites suite.  Assembled and
@ linked at test time with the arm-linux-gnueabihf binutils, never run.
	.syntax unified
	.arch	armv7-a
	.text

	.arm
	.globl	a32_func
	.type	a32_func, %function
a32_func:
	push	{r4, lr}
	cmp	r0, #0
	beq	1f
	bne	2f
	bl	t32_func
	blx	t32_func
	blx	r3
	bx	r2
	bxne	lr
	mov	pc, r1
	ldr	pc, [r2, #4]
	addls	pc, pc, r0, lsl #2
	svc	#0
	movs	pc, lr
	b	3f
1:	bleq	a32_func
	ldmfd	sp!, {r4, pc}
2:	mov	pc, lr
3:	ldr	pc, [sp], #4
	subs	pc, lr, #4
	ldmib	r0, {r4, pc}
	ldm	r1, {r2, pc}
	ldr	pc, [sp, #4]!
	pop	{r4, pc}
	ldr	r0, =0xea000010		@ a literal that reads as "b"
	bx	lr
	.ltorg
	.size	a32_func, .-a32_func

	.thumb
	.globl	t32_func
	.type	t32_func, %function
	.thumb_func
t32_func:
	push	{r4, lr}
	cbz	r0, 1f
	cbnz	r1, 2f
	cmp	r0, #1
	it	eq
	beq	1f
	ite	ne
	movne	r0, #1
	beq.w	2f
	itt	gt
	addgt	r0, #2
	bgt	3f
	beq.n	1f
	bgt.w	2f
	bl	a32_func
	blx	a32_func
	blx	r3
	bx	r2
	tbb	[pc, r0]
	svc	#1
	b.w	3f
1:	pop	{r4, pc}
2:	bx	lr
3:	mov	pc, lr
	ldr	pc, [sp], #4
	ldr	r1, =0xe7fed0fe		@ literals that read as "b" and "beq"
	b	1b
	.ltorg
	.size	t32_func, .-t32_func
	.section .note.GNU-stack,"",%progbits
