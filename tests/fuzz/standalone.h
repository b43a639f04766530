/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * With -DSA_FUZZ_STANDALONE a fuzz target is a plain program that runs
 * LLVMFuzzerTestOneInput() once on each file named on its command line
 * (to replay a crash without libFuzzer).  Included last by the targets.
 */
#ifndef SA_FUZZ_STANDALONE_H
#define SA_FUZZ_STANDALONE_H

#ifdef SA_FUZZ_STANDALONE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf;
		long n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(n > 0 ? (size_t)n : 1);
		if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) !=
				      (size_t)n)) {
			fprintf(stderr, "%s: read failed\n", argv[i]);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, (size_t)n);
		free(buf);
	}
	return 0;
}
#endif

#endif /* SA_FUZZ_STANDALONE_H */
