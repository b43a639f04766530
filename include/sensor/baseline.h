/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sensor-agent: the baseline store.
 *
 * A baseline is what a binary normally does: for each build of each
 * binary, summed over many trace windows, how often each function was
 * called, which way each conditional branch went, which targets each
 * indirect branch reached and how often decisions led into error sinks.
 * It lives in one SQLite file.
 *
 * Keys are the binary's build-id (or, when the binary has none, its path),
 * the function name and the branch's ELF virtual address, so load
 * addresses (ASLR) and restarts do not matter, and every build of a
 * binary has its own baseline.
 *
 * Besides the sums, the store keeps per-window second moments (sum of
 * t_i^2 / n_i over windows) so that the detector can measure how much the
 * counts really vary from window to window (over-dispersion); see
 * docs/anomalies.md.
 *
 * Ageing: exponential decay by windows.  Before a window is added, every
 * sum of that build is multiplied by 2^(-1/H), H being the half-life in
 * windows (sa_baseline_set_half_life(), default SA_BASELINE_DEF_HALF_LIFE,
 * kept in the file).  Rows whose counts decay below
 * SA_BASELINE_PRUNE_BELOW are deleted.
 */
#ifndef SENSOR_BASELINE_H
#define SENSOR_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/error.h"
#include "sensor/hist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PRAGMA user_version of the file layout this code reads and writes. */
#define SA_BASELINE_SCHEMA_VERSION 2
/* Half-life of the decay, in windows added to the same build. */
#define SA_BASELINE_DEF_HALF_LIFE 1000.0
#define SA_BASELINE_PRUNE_BELOW 0.01
/* Caps on what one build may hold in memory when loaded. */
#define SA_BASELINE_MAX_FUNCS (1u << 20)
#define SA_BASELINE_MAX_BRANCHES (1u << 22)

struct sa_baseline;

/* Open flags. */
#define SA_BASELINE_RDONLY 0x1	/* never write; the file must exist */
#define SA_BASELINE_CREATE 0x2	/* create the file when missing */

/* Opens (or creates) the baseline file @path.
 *
 * Returns NULL and sets errno on failure, with @ei saying why:
 * -SA_ERR_NOTFOUND when the file does not exist (without
 * SA_BASELINE_CREATE), -SA_ERR_CORRUPT when SQLite rejects it ("file is
 * not a database", damaged pages), -SA_ERR_UNSUPPORTED when its schema
 * version is not SA_BASELINE_SCHEMA_VERSION or it is not a sensor-agent
 * baseline.
 */
struct sa_baseline *sa_baseline__open(const char *path, unsigned flags,
				      struct sa_errinfo *ei);

/* Closes the file.  Accepts NULL. */
void sa_baseline__free(struct sa_baseline *bl);

const char *sa_baseline_path(const struct sa_baseline *bl);

/* Sets the decay half-life in windows and stores it in the file; 0 turns
 * decay off.  Returns 0, -SA_ERR_INVAL (negative or NaN), or
 * -SA_ERR_CORRUPT on an SQLite failure.
 */
int sa_baseline_set_half_life(struct sa_baseline *bl, double windows);
double sa_baseline_half_life(const struct sa_baseline *bl);

/* Adds @nr windows (one history each; the history of one trace window,
 * not a merge of several, so that the window-to-window spread is
 * measured) in one transaction.  Every binary the histories touch gets
 * its own build entry.  Functions of an unknown binary ("[unknown]") are
 * skipped.  An idle window (sa_hist_decode()->idle_windows: no instruction,
 * no error) is a valid empty observation: it counts as one more window
 * (windows, added, decay) of every build the other windows of the same
 * call touch; an add of idle windows only stores nothing and returns 0.
 *
 * Returns 0, or a negative error with @ei filled (nothing is added):
 * -SA_ERR_NODATA when a history that is not idle holds no function of a
 * known binary, -SA_ERR_CORRUPT naming the table and row when a stored
 * row of a build it adds to breaks the invariants (sa_baseline_check()),
 * -SA_ERR_CORRUPT on an SQLite failure, -EROFS when opened read-only.
 */
int sa_baseline_add(struct sa_baseline *bl, struct sa_hist *const *hists,
		    size_t nr, struct sa_errinfo *ei);

/* Checks every row of every build as loading it for a comparison does:
 * counts are finite numbers in [0, 2^53], offsets, lines, classes and
 * `added` integers, and no branch decided more often than it ran
 * (taken + not_taken <= executed).  sa_baseline_add() makes the same
 * check on the builds it adds to, inside its write transaction.
 *
 * Returns 0, or -SA_ERR_CORRUPT with @ei naming the file, the table and
 * the row (or an SQLite failure), -SA_ERR_TOOBIG, -ENOMEM.
 */
int sa_baseline_check(struct sa_baseline *bl, struct sa_errinfo *ei);

/* One build known to the store. */
struct sa_baseline_build {
	char key[512];		/* build-id hex, or "path:<binary>" */
	char build_id[2 * SA_BUILD_ID_MAX + 1];	/* "" when none */
	char binary[400];	/* path of the binary */
	double windows;		/* decayed number of windows */
	uint64_t added;		/* windows ever added */
	double insns;		/* decayed instructions */
	uint64_t functions;
	uint64_t branches;
	int64_t first_seen;	/* unix time */
	int64_t last_seen;
};

/* Returns the number of builds (>= 0), or a negative error. */
int sa_baseline_nr_builds(struct sa_baseline *bl);
/* Fills @out with the @idx-th build (ordered by binary, then last_seen).
 * Returns 0, -SA_ERR_NOTFOUND past the end, or another negative error.
 */
int sa_baseline_build_at(struct sa_baseline *bl, size_t idx,
			 struct sa_baseline_build *out);
/* Finds a build by key, build-id, build-id prefix (at least 8 hex digits)
 * or binary path (the most recent build of that path).  Returns 0,
 * -SA_ERR_NOTFOUND (with @ei naming what exists) or another negative
 * error.
 */
int sa_baseline_find_build(struct sa_baseline *bl, const char *what,
			   struct sa_baseline_build *out,
			   struct sa_errinfo *ei);

/* One conditional branch of a build, as the baseline holds it (decayed
 * sums over its windows).  Strings are valid during the callback only.
 */
struct sa_baseline_branch {
	uint64_t offset;	/* ELF virtual address */
	uint64_t func_entry;	/* ELF virtual address of its function */
	const char *function;
	const char *file;	/* NULL when unknown */
	int line;		/* 0 when unknown */
	double executed;
	double taken, not_taken;
};

/* Returns 0 to go on, non-zero to stop (sa_baseline_for_each_branch()
 * then returns that value).
 */
typedef int (*sa_baseline_branch_fn)(void *ctx,
				     const struct sa_baseline_branch *b);

/* Calls @fn for every conditional branch of the build @what (as
 * sa_baseline_find_build() takes it), by offset.  Returns 0, @fn's
 * non-zero value, or a negative error with @ei filled (-SA_ERR_NOTFOUND,
 * -SA_ERR_CORRUPT, -SA_ERR_TOOBIG, -ENOMEM).
 */
int sa_baseline_for_each_branch(struct sa_baseline *bl, const char *what,
				sa_baseline_branch_fn fn, void *ctx,
				struct sa_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif /* SENSOR_BASELINE_H */
