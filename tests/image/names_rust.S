/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Functions with Rust symbol names, legacy (_ZN...17h<hash>E) and v0
 * (_R...), as rustc emits them; the image-names suite compares how they
 * are demangled with objdump -C and c++filt -i.
 */
	.text
	.macro fn name
	.globl \name
	.type \name, @function
\name:
	xorl %eax, %eax
	ret
	.size \name, . - \name
	.endm

	fn _ZN4core3fmt5write17h0123456789abcdefE
	fn _ZN3std2io5stdio6_print17h1a2b3c4d5e6f7a8bE
	fn _RNvNtCs1234_7mycrate3foo3bar
	fn _RINvCs1234_7mycrate4openNtNtCs5678_3std4path4PathEB2_

	.globl names_rust_calls
	.type names_rust_calls, @function
names_rust_calls:
	call _ZN4core3fmt5write17h0123456789abcdefE
	call _RNvNtCs1234_7mycrate3foo3bar
	ret
	.size names_rust_calls, . - names_rust_calls
	.section .note.GNU-stack, "", @progbits
