// SPDX-License-Identifier: BSD-2-Clause
/*
 * History output: the versioned JSON document (docs/histories.md) and the
 * text table for a person.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hist_int.h"
#include "json.h"

/* Errors listed by the text output; JSON lists SA_HIST_MAX_ERRORS. */
#define SA_TEXT_ERRORS 8

static const char *const sa_ic_names[SA_IC_MAX] = {
	[SA_IC_OTHER] = "other",
	[SA_IC_COND] = "jcc",
	[SA_IC_JUMP] = "jmp",
	[SA_IC_CALL] = "call",
	[SA_IC_IND_JUMP] = "ind_jmp",
	[SA_IC_IND_CALL] = "ind_call",
	[SA_IC_RET] = "return",
	[SA_IC_SYSCALL] = "syscall",
	[SA_IC_FAR] = "far",
	[SA_IC_UNKNOWN] = "unknown",
};

const char *sa_iclass_name(enum sa_iclass ic)
{
	if ((unsigned)ic < SA_IC_MAX && sa_ic_names[ic])
		return sa_ic_names[ic];
	return "unknown";
}

static const char *const sa_gap_names[] = {
	[SA_GAP_START] = "start",
	[SA_GAP_DISABLED] = "disabled",
	[SA_GAP_ASYNC] = "async",
	[SA_GAP_OVERFLOW] = "overflow",
	[SA_GAP_ERROR] = "error",
	[SA_GAP_LOST] = "lost",
	[SA_GAP_END] = "end",
};

static const char *sa_gap_name(unsigned r)
{
	if (r < sizeof(sa_gap_names) / sizeof(sa_gap_names[0]) &&
	    sa_gap_names[r])
		return sa_gap_names[r];
	return "unknown";
}

static void sa_json_decode(struct sa_json *j, const struct sa_hist_decode *d)
{
	size_t i;

	sa_json_obj_begin(j, "decode");
	sa_json_u64(j, "windows", d->windows);
	sa_json_u64(j, "trace_bytes", d->trace_bytes);
	sa_json_u64(j, "instructions", d->instructions);
	sa_json_u64(j, "errors", d->errors);
	sa_json_u64(j, "lost_bytes", d->lost_bytes);
	sa_json_u64(j, "overflows", d->overflows);
	sa_json_u64(j, "aux_truncated", d->aux_truncated);
	sa_json_u64(j, "aux_partial", d->aux_partial);
	sa_json_u64(j, "aux_collision", d->aux_collision);
	sa_json_u64(j, "lost_records", d->lost_records);
	sa_json_u64(j, "unknown_outcomes", d->unknown_taken);
	sa_json_u64(j, "unmapped_ranges", d->unmapped);
	sa_json_u64(j, "missing_binaries", d->missing_binaries);
	sa_json_u64(j, "missing_sources", d->missing_sources);
	sa_json_u64(j, "build_id_mismatches", d->build_id_mismatches);
	sa_json_u64(j, "idle_windows", d->idle_windows);
	sa_json_u64(j, "unnamed_targets", d->unnamed_targets);
	sa_json_u64(j, "unnamed_vdso_targets", d->unnamed_vdso_targets);
	sa_json_u64(j, "threads", d->nr_tids);
	sa_json_arr_begin(j, "tids");
	for (i = 0; i < d->nr_tids; i++)
		sa_json_u64(j, NULL, (uint64_t)d->tids[i]);
	sa_json_arr_end(j);
	sa_json_bool(j, "tids_truncated", d->tids_truncated);
	sa_json_arr_begin(j, "error_list");
	for (i = 0; i < d->nr_error_list; i++) {
		sa_json_obj_begin(j, NULL);
		sa_json_hex(j, "offset", d->error_list[i].offset);
		sa_json_str(j, "reason", sa_gap_name(d->error_list[i].reason));
		sa_json_i64(j, "code", d->error_list[i].code);
		sa_json_str(j, "message", sa_strerror(d->error_list[i].code));
		sa_json_obj_end(j);
	}
	sa_json_arr_end(j);
	sa_json_obj_end(j);
}

static void sa_json_branch(struct sa_json *j, const struct sa_hist_branch *b,
			   unsigned flags)
{
	size_t i;

	sa_json_obj_begin(j, NULL);
	sa_json_hex(j, "address", b->addr);
	sa_json_hex(j, "offset", b->offset);
	sa_json_str(j, "kind", sa_iclass_name((enum sa_iclass)b->iclass));
	sa_json_str(j, "file", b->file);
	if (b->line)
		sa_json_i64(j, "line", b->line);
	else
		sa_json_null(j, "line");
	sa_json_str(j, "insn", b->insn);
	if (b->target)
		sa_json_hex(j, "target", b->target);
	if (b->fallthrough)
		sa_json_hex(j, "fallthrough", b->fallthrough);
	sa_json_u64(j, "executed", b->executed);
	sa_json_u64(j, "taken", b->taken);
	sa_json_u64(j, "not_taken", b->not_taken);
	if (b->sink_taken || b->sink_not_taken) {
		sa_json_u64(j, "error_path_taken", b->sink_taken);
		sa_json_u64(j, "error_path_not_taken", b->sink_not_taken);
	}
	if (b->nr_targets) {
		sa_json_arr_begin(j, "targets");
		for (i = 0; i < b->nr_targets; i++) {
			const struct sa_hist_target *t = &b->targets[i];

			sa_json_obj_begin(j, NULL);
			sa_json_hex(j, "address", t->addr);
			sa_json_hex(j, "offset", t->offset);
			sa_json_str(j, "symbol", t->sym);
			if (t->sym)
				sa_json_hex(j, "symbol_offset", t->sym_off);
			sa_json_str(j, "binary", t->binary);
			sa_json_str(j, "build_id",
				    t->build_id ? t->build_id : "");
			sa_json_u64(j, "count", t->count);
			sa_json_obj_end(j);
		}
		sa_json_arr_end(j);
	}
	(void)flags;
	sa_json_obj_end(j);
}

int sa_hist_write_json(const struct sa_hist *h, FILE *f, unsigned flags)
{
	struct sa_json j;
	size_t i, k;

	sa_json_init(&j, f, true);
	sa_json_obj_begin(&j, NULL);
	sa_json_str(&j, "schema", "sensor-agent/histories");
	sa_json_u64(&j, "version", SA_HIST_SCHEMA_VERSION);
	sa_json_decode(&j, &h->dec);
	sa_json_arr_begin(&j, "functions");
	for (i = 0; i < h->nr_funcs; i++) {
		const struct sa_hist_func *fn = h->funcs[i];

		sa_json_obj_begin(&j, NULL);
		sa_json_str(&j, "name", fn->name);
		if (fn->linkage_name && strcmp(fn->linkage_name, fn->name))
			sa_json_str(&j, "linkage_name", fn->linkage_name);
		sa_json_str(&j, "binary", fn->binary);
		sa_json_str(&j, "build_id", fn->build_id);
		sa_json_hex(&j, "entry", fn->entry);
		sa_json_hex(&j, "entry_offset", fn->entry_offset);
		sa_json_u64(&j, "calls", fn->calls);
		sa_json_u64(&j, "returns", fn->returns);
		sa_json_u64(&j, "instructions", fn->insns);
		sa_json_bool(&j, "error_sink", fn->is_sink);
		sa_json_u64(&j, "error_sink_entries", fn->sink_entries);
		sa_json_arr_begin(&j, "branches");
		for (k = 0; k < fn->nr_branches; k++)
			sa_json_branch(&j, &fn->branches[k], flags);
		sa_json_arr_end(&j);
		sa_json_obj_end(&j);
	}
	sa_json_arr_end(&j);
	sa_json_obj_end(&j);
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

static const char *sa_basename(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s ? s + 1 : (p ? p : "");
}

int sa_hist_write_text(const struct sa_hist *h, FILE *f, unsigned flags)
{
	const struct sa_hist_decode *d = &h->dec;
	size_t i, k, t;

	fprintf(f, "decode: %" PRIu64 " instructions, %" PRIu64
		   " trace bytes, %" PRIu64 " errors, %" PRIu64
		   " lost bytes, %" PRIu64 " overflows, %" PRIu64
		   " unknown outcomes\n",
		d->instructions, d->trace_bytes, d->errors, d->lost_bytes,
		d->overflows, d->unknown_taken);
	if (d->idle_windows)
		fprintf(f, "idle: %" PRIu64 " of %" PRIu64 " windows held no "
			   "instruction and no error (the target did not run "
			   "traced code)\n", d->idle_windows, d->windows);
	if (d->nr_tids) {
		fprintf(f, "threads: %s%" PRIu32 " observed (tids", 
			d->tids_truncated ? "over " : "", d->nr_tids);
		for (k = 0; k < d->nr_tids; k++)
			fprintf(f, " %" PRId32, d->tids[k]);
		fprintf(f, "%s)\n", d->tids_truncated ? " ..." : "");
	}
	if (d->missing_binaries || d->build_id_mismatches)
		fprintf(f, "warning: %" PRIu64 " traced binaries missing, %"
			   PRIu64 " of another build (build-id mismatch): "
			   "their counts are incomplete or wrong\n",
			d->missing_binaries, d->build_id_mismatches);
	if (d->unnamed_targets)
		fprintf(f, "warning: %" PRIu64 " indirect-branch outcomes went "
			   "to code no mapping holds: counted as target "
			   "[unknown]\n", d->unnamed_targets);
	if (d->unnamed_vdso_targets)
		fprintf(f, "note: %" PRIu64 " indirect-branch outcomes went "
			   "into the vDSO, whose image is not in the build-id "
			   "cache: named [vdso] + offset\n",
			d->unnamed_vdso_targets);
	if (d->missing_sources)
		fprintf(f, "warning: %" PRIu64 " trace sources not decoded "
			   "(no device file)\n", d->missing_sources);
	for (i = 0; i < d->nr_error_list && i < SA_TEXT_ERRORS; i++)
		fprintf(f, "  %s at trace offset %#" PRIx64 ": %s\n",
			sa_gap_name(d->error_list[i].reason),
			d->error_list[i].offset,
			sa_strerror(d->error_list[i].code));
	if (d->errors + d->overflows > SA_TEXT_ERRORS)
		fprintf(f, "  ... %" PRIu64 " more (--format json lists the "
			   "first %d)\n",
			d->errors + d->overflows - SA_TEXT_ERRORS,
			SA_HIST_MAX_ERRORS);
	for (i = 0; i < h->nr_funcs; i++) {
		const struct sa_hist_func *fn = h->funcs[i];

		if (!fn->insns && !fn->calls)
			continue;
		fprintf(f, "\n%s (%s) entry %#" PRIx64 ": %" PRIu64
			   " calls, %" PRIu64 " returns, %" PRIu64
			   " instructions%s\n",
			fn->name, sa_basename(fn->binary), fn->entry_offset,
			fn->calls,
			fn->returns, fn->insns,
			fn->is_sink ? ", error sink" : "");
		if (!fn->nr_branches)
			continue;
		fprintf(f, "  %-18s %-24s %-32s %10s %10s %7s\n", "address",
			"source", "instruction", "taken", "not-taken", "taken%");
		for (k = 0; k < fn->nr_branches; k++) {
			const struct sa_hist_branch *b = &fn->branches[k];
			char src[64];
			uint64_t n = b->taken + b->not_taken;

			if (b->file)
				snprintf(src, sizeof(src), "%s:%d",
					 sa_basename(b->file), b->line);
			else
				snprintf(src, sizeof(src), "?");
			fprintf(f, "  %#-18" PRIx64 " %-24s %-32s %10" PRIu64
				   " %10" PRIu64,
				b->offset, src, b->insn ? b->insn : "?", b->taken,
				b->not_taken);
			if (n)
				fprintf(f, " %6.1f%%\n", 100.0 * b->taken / n);
			else
				fprintf(f, " %7s\n", "-");
			if (!(flags & SA_HIST_OUT_TARGETS))
				continue;
			for (t = 0; t < b->nr_targets; t++) {
				const struct sa_hist_target *ta =
					&b->targets[t];
				const char *bn = ta->binary ?
					strrchr(ta->binary, '/') : NULL;

				bn = bn ? bn + 1 :
				     ta->binary ? ta->binary : "[unknown]";
				fprintf(f, "      -> %s:%#" PRIx64 " %s+%#" PRIx64
					   ": %" PRIu64 "\n", bn, ta->offset,
					ta->sym ? ta->sym : "?", ta->sym_off,
					ta->count);
			}
		}
	}
	return ferror(f) ? -EIO : 0;
}
