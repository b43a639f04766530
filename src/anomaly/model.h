/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: the count model shared by the baseline store and the detector.
 *
 * A model is a set of builds; a build holds, per function and per branch
 * site, sums over windows of the counts and of their per-window second
 * moments.  One window's history becomes a model with windows = 1
 * (sa_model_from_hist()); a group of windows is the merge of such models;
 * a baseline is the same sums, decayed, loaded from SQLite.  Using one
 * conversion for both sides keeps them consistent.
 */
#ifndef SA_ANOMALY_MODEL_H
#define SA_ANOMALY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensor/hist.h"

struct sa_mtarget {
	/* "<object>:<hex link-time address>", the object being the
	 * build-id, else the path or the bucket ("[anon]", "[vdso]")
	 */
	char *key;
	char *sym;		/* display name: "sym+0x10 in libc.so.6" */
	double count;
	double s_kk;		/* sum over windows of k^2 / e */
};

struct sa_mbranch {
	uint64_t offset;
	uint64_t func_entry;
	char *func;
	char *file;		/* NULL when unknown */
	int line;
	char *insn;		/* NULL when unknown */
	char *callee;		/* direct calls: the callee's name, or NULL */
	uint8_t iclass;
	double executed;
	double taken, not_taken;
	double sink_t, sink_nt;
	double nwin;		/* windows where n = taken + not_taken > 0 */
	double s_tt;		/* sum of taken^2 / n */
	double s_ss;		/* sum of (sink_t + sink_nt)^2 / n */
	double tot;		/* indirect: sum of target counts */
	double nwin_t;		/* windows with tot > 0 */
	size_t nr_targets;	/* sorted by key */
	struct sa_mtarget *targets;
};

struct sa_mfunc {
	char *name;		/* demangled, as the history names it */
	char *linkage;		/* the mangled name, NULL when it is @name */
	uint64_t entry;
	char *file;		/* from the first branch with a line, or NULL */
	int line;
	double calls;
	double insns;
	double sink_entries;
	double s_cc;		/* sum of calls^2 / window instructions */
	double s_ee;		/* sum of sink_entries^2 / window insns */
	bool is_sink;
};

struct sa_mbuild {
	char *key;		/* build-id hex, or "path:<binary>" */
	char *build_id;
	char *binary;
	double windows;
	double insns;		/* window instructions, summed */
	uint64_t added;
	size_t nr_funcs;	/* sorted by (entry, name) */
	struct sa_mfunc *funcs;
	size_t nr_branches;	/* sorted by offset */
	struct sa_mbranch *branches;
};

struct sa_model {
	size_t nr_builds;	/* sorted by key */
	struct sa_mbuild *builds;
	/* Decode losses of the windows, for the confidence. */
	double confidence;
	uint64_t windows;
};

struct sa_model *sa_model__new(void);
void sa_model__free(struct sa_model *m);
void sa_mbuild_fini(struct sa_mbuild *b);

/* One window.  Returns NULL (errno) on failure. */
struct sa_model *sa_model_from_hist(const struct sa_hist *h);
/* Adds every sum of @src to @dst (@src unchanged). */
int sa_model_merge(struct sa_model *dst, const struct sa_model *src);

struct sa_mbuild *sa_model_find_build(const struct sa_model *m,
				      const char *key);
const struct sa_mbranch *sa_mbuild_branch(const struct sa_mbuild *b,
					  uint64_t offset);
const struct sa_mfunc *sa_mbuild_func(const struct sa_mbuild *b,
				      uint64_t entry, const char *name);
const struct sa_mfunc *sa_mbuild_func_by_name(const struct sa_mbuild *b,
					      const char *name);
const struct sa_mtarget *sa_mbranch_target(const struct sa_mbranch *br,
					   const char *key);

/* Sorting after direct filling (the SQLite loader). */
void sa_mbuild_sort(struct sa_mbuild *b);

/* Confidence (0..1) of one window's decode. */
double sa_hist_confidence(const struct sa_hist *h);

bool sa_iclass_is_indirect(int iclass);

#endif /* SA_ANOMALY_MODEL_H */
