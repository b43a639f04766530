// SPDX-License-Identifier: BSD-2-Clause
/*
 * The account check of sc_cxx: a static check_key() of the same name
 * and type as the one in sc_cxx.cpp, so that the two must stay two
 * functions in every history and report.
 */
#include <cstring>

#include "sc_cxx.h"

/* An account key is lower-case letters only. */
__attribute__((noinline)) static int check_key(const char *key)
{
	for (; *key; key++)
		if (*key < 'a' || *key > 'z') /* PLANT upper */
			return 0;
	return 1;
}

bool sa_cxx_account_ok(const char *key)
{
	return check_key(key) != 0;
}
