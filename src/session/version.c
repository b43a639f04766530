// SPDX-License-Identifier: BSD-2-Clause
/*
 * The decoding libraries' versions, asked from the libraries themselves
 * through the decoder backends (the only code that includes their
 * headers).
 */
#include <stdio.h>

#include "etm/etm.h"
#include "decoder.h"
#include "sensor/version.h"

void sa_lib_versions(char *buf, size_t len)
{
	char ipt[96], etm[64];

	sa_ipt_lib_versions(ipt, sizeof(ipt));
	sa_etm_lib_version(etm, sizeof(etm));
	snprintf(buf, len, "%s, %s", ipt, etm);
}
