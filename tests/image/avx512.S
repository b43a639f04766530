/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A function of AVX-512 code (EVEX) and mask-register code (VEX k*
 * instructions) between conditional branches, as in glibc's *-evex
 * string functions.  capstone 4.0.2 cannot decode most of these; the site
 * map must still find every jcc that objdump sees.  Never executed.
 */
	.text
	.globl	avx512_branches
	.type	avx512_branches, @function
avx512_branches:
	kmovq	%rbx, %k1
	vmovdqu8 (%rdi), %zmm1{%k1}{z}
	vpcmpb	$0, (%rsi), %zmm1, %k2
	kortestq %k2, %k2
	jne	1f
	vpminub	0x40(%rdi), %zmm1, %zmm2
	vptestnmb %zmm2, %zmm2, %k0
	kmovq	%k0, %rax
	test	%rax, %rax
	je	2f
	vpternlogd $0xde, %zmm1, %zmm2, %zmm3
	vpcmpeqb 0x1000(%rip), %zmm3, %k1
	kmovd	%k1, %ecx
	jc	3f
	vpcmpub	$4, 0x12345678(%rdi,%rcx,8), %zmm3, %k3{%k1}
	kortestd %k3, %k3
	jz	4f
	vpbroadcastb %esi, %zmm0
	vpshufd	$0x1b, %zmm0, %zmm5
	cmp	$3, %ecx
	jg	1f
	vmovdqu64 %zmm5, -0x80(%rsp)
	loop	avx512_branches
1:	vzeroupper
	ret
2:	vpcompressb %zmm1, (%rdi){%k1}
	jmp	1b
3:	kandq	%k1, %k2, %k3
	jrcxz	1b
	xor	%eax, %eax
	ret
4:	mov	$-1, %eax
	ret
	.size	avx512_branches, .-avx512_branches
	.section .note.GNU-stack,"",@progbits
