/* SPDX-License-Identifier: BSD-2-Clause */
/* Calls a64_lib.s through the PLT that ld makes (never run). */
	.text
	.globl _start
	.type _start, %function
_start:
	bl ext_alpha
	bl _ZN2ns4betaEv
	bl ext_gamma
	ret
