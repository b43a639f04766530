static int decide(int x)
{
	if (x & 1)
		return x * 3 + 1;
	return x / 2;
}

int steps(int x)
{
	int n = 0;

	while (x != 1 && n < 1000) {
		x = decide(x);
		n++;
	}
	return n;
}

void _start(void)
{
	volatile int r = steps(27);
	(void)r;
	for (;;)
		;
}
