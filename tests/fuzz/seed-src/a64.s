	.text
	.globl _start
	.type _start, %function
_start:
	mov x0, #27
1:	tbz x0, #0, 2f
	add x0, x0, x0, lsl #1
	add x0, x0, #1
	b 3f
2:	lsr x0, x0, #1
3:	cmp x0, #1
	b.ne 1b
	bl leaf
	b _start
	.size _start, .-_start
	.type leaf, %function
leaf:
	ret
	.size leaf, .-leaf
