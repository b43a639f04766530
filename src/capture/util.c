// SPDX-License-Identifier: BSD-2-Clause
#include <time.h>

#include "capture_int.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t sa_cap_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t sa_cap_thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}
