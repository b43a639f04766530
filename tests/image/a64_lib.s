/* SPDX-License-Identifier: BSD-2-Clause */
/* A shared library for the AArch64 PLT test programs (never run). */
	.text
	.globl ext_alpha
	.type ext_alpha, %function
ext_alpha:
	ret
	.globl _ZN2ns4betaEv
	.type _ZN2ns4betaEv, %function
_ZN2ns4betaEv:
	ret
	.globl ext_gamma
	.type ext_gamma, %function
ext_gamma:
	ret
