# SPDX-License-Identifier: BSD-2-Clause
# i386 control transfers for the sites suite, assembled and linked at
# test time with `as --32` and `ld -m elf_i386`, never run.
	.text
	.globl	i386_func
	.type	i386_func, @function
i386_func:
	push	%ebp
	mov	%esp, %ebp
	cmp	$1, %eax
	je	1f
	jne	2f
	call	i386_func
	call	*%eax
	call	*4(%ebx)
	jmp	*%ecx
	jmp	*8(%ebx,%esi,4)
	int	$0x80
	sysenter
	vpaddd	%xmm1, %xmm2, %xmm3
	vpaddd	%zmm1, %zmm2, %zmm3{%k1}
	kmovw	%k1, %eax
	les	(%eax), %ecx
	lds	4(%ebx), %edx
	loop	1f
	jecxz	2f
	jmp	3f
1:	lret
2:	iret
3:	ret	$4
	.size	i386_func, .-i386_func
	.section .note.GNU-stack,"",@progbits
