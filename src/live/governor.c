// SPDX-License-Identifier: BSD-2-Clause
/*
 * The live loop's governor: holds the CPU budget by setting the duty
 * cycle (window length, period) from what each window cost, and says
 * when the budget skips most windows (docs/live.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "sensor/backend.h"
#include "sensor/live.h"
#include "sensor/log.h"

#include "live_int.h"

uint64_t sa_live__proc_cpu_ns(void)
{
	struct rusage self, ch;

	if (getrusage(RUSAGE_SELF, &self) || getrusage(RUSAGE_CHILDREN, &ch))
		return 0;
	return (uint64_t)(self.ru_utime.tv_sec + self.ru_stime.tv_sec +
			  ch.ru_utime.tv_sec + ch.ru_stime.tv_sec) *
	       1000000000ull +
	       (uint64_t)(self.ru_utime.tv_usec + self.ru_stime.tv_usec +
			  ch.ru_utime.tv_usec + ch.ru_stime.tv_usec) * 1000ull;
}

uint64_t sa_live__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The governor, after each window: what the window cost (all of the
 * sensor's CPU since the previous one: capture with the guardian,
 * decode, learning or comparing) sets the duty cycle so that the budget
 * holds without skipping windows.  The period is stretched to the
 * window's cost over the budget (a window of cost C every C / budget),
 * never below the user's; the window is kept as long as the user asked
 * (the share of time observed, window / period, grows with the window
 * while the cost has a fixed part), and shortened, at most by half per
 * window, only when the period would have to pass ten times the user's.
 * It grows back when the cost allows.  The token bucket of the backend
 * stays the hard limit: it is debited with the same total.
 */
#define SA_GOV_MAX_STRETCH 10
#define SA_GOV_MIN_WINDOW_MS 1
#define SA_GOV_MIN_WINDOW_INSNS 100

static uint64_t gov_clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void sa_live__govern(struct sa_live *lv, const struct sa_window_info *wi)
{
	uint64_t now = sa_live__proc_cpu_ns(), cycle = now - lv->cpu_mark_ns;
	uint64_t permille = lv->st.cpu_permille, period, max_period, rest;
	uint64_t w_ms = lv->st.window_ms, w_insns = lv->st.window_insns;
	bool by_insns = lv->user_window_insns != 0;
	uint64_t w = by_insns ? w_insns : w_ms;
	uint64_t w_user = by_insns ? lv->user_window_insns :
				     lv->user_window_ms;
	uint64_t w_min = by_insns ? SA_GOV_MIN_WINDOW_INSNS :
				    SA_GOV_MIN_WINDOW_MS;
	uint64_t nw = w;

	lv->cpu_mark_ns = now;
	lv->st.sensor_cpu_ns = now - lv->cpu_start_ns;
	lv->st.observed_ns += wi->end_ns - wi->start_ns;
	/* what the bucket has not been told yet: learning, comparing */
	if (cycle > wi->capture_cpu_ns + lv->last_decode_ns) {
		rest = cycle - wi->capture_cpu_ns - lv->last_decode_ns;
		sa_backend_account(lv->backend, rest);
	}
	lv->last_decode_ns = 0;
	if (cycle > lv->st.max_window_cpu_ns)
		lv->st.max_window_cpu_ns = cycle;
	lv->cost_ns = lv->cost_ns ? (lv->cost_ns + cycle) / 2 : cycle;
	if (!permille || permille >= 1000 || !w)
		return;		/* a whole core: nothing to hold */

	/* the period a window of this cost needs, in ms */
	period = lv->cost_ns / (permille * 1000ull) + 1;
	max_period = SA_GOV_MAX_STRETCH * lv->user_period_ms;
	if (period > max_period && w > w_min)
		nw = gov_clamp(w * max_period / period, w / 2, w);
	else if (period * 3 < lv->user_period_ms * 2 && w < w_user)
		nw = gov_clamp(w * lv->user_period_ms / period, w, 2 * w);
	nw = gov_clamp(nw, w_min, w_user);
	period = gov_clamp(period, lv->user_period_ms, max_period);
	if (nw == w && period == lv->st.period_ms)
		return;
	if (by_insns)
		lv->st.window_insns = nw;
	else
		lv->st.window_ms = nw;
	lv->st.period_ms = period;
	lv->st.governor_changes++;
	sa_backend_set_schedule(lv->backend, by_insns ? 0 : nw,
				by_insns ? nw : 0, period);
	sa_debug("governor: a window costs %.1f ms of CPU; window %" PRIu64
		 "%s, period %" PRIu64 " ms (budget %.1f%% of a core)\n",
		 lv->cost_ns / 1e6, nw, by_insns ? " instructions" : " ms",
		 period, permille / 10.0);
}

char *sa_live_format_governor(const struct sa_live_stats *st, char *buf,
			      size_t size)
{
	double wall = st->wall_ns ? st->wall_ns / 1e9 : 0;

	snprintf(buf, size, "observed %.1f ms of every second at %.2f%% of "
		 "a core (budget %.1f%%; window %" PRIu64 "%s every %" PRIu64
		 " ms)", wall ? st->observed_ns / 1e6 / wall : 0.0,
		 wall ? st->sensor_cpu_ns / 1e7 / wall : 0.0,
		 st->cpu_permille / 10.0,
		 st->window_insns ? st->window_insns : st->window_ms,
		 st->window_insns ? " instructions" : " ms", st->period_ms);
	return buf;
}

#define BUDGET_REPORT_FIRST 10			/* windows */
#define BUDGET_REPORT_EVERY 60000000000ull	/* ns */

/* Says, at the default verbosity, when the CPU budget skips most windows
 * (more than half since the last report): the first time after 10
 * windows, then at most once a minute, with what a window costs and the
 * options that change it.  Silence would look like a quiet target.
 */
void sa_live__budget_report(struct sa_live *lv)
{
	uint64_t now = sa_live__mono_ns();
	uint64_t seen, skipped, done, cost, period, need;
	struct sa_backend_stats bs;
	uint32_t budget;

	if (now < lv->budget_next_ns)
		return;
	sa_backend_stats(lv->backend, &bs);
	seen = lv->st.windows + lv->st.windows_failed + bs.windows_skipped -
	       lv->budget_seen;
	skipped = bs.windows_skipped - lv->budget_skipped;
	if (!lv->budget_next_ns && seen < BUDGET_REPORT_FIRST)
		return;
	lv->budget_next_ns = now + BUDGET_REPORT_EVERY;
	lv->budget_seen += seen;
	lv->budget_skipped += skipped;
	if (!seen || skipped * 2 <= seen)
		return;
	budget = lv->o.backend.budget.cpu_permille ?
		 lv->o.backend.budget.cpu_permille :
		 SA_BACKEND_DEF_CPU_PERMILLE;
	/* the period in force: the governor's, else the one asked for */
	period = lv->st.period_ms ? lv->st.period_ms :
		 lv->o.backend.period_ms ? lv->o.backend.period_ms :
		 SA_BACKEND_DEF_PERIOD_MS;
	done = lv->st.windows + lv->st.windows_failed;
	if (!done) {
		sa_live__note(lv, "%" PRIu64 " of %" PRIu64 " windows skipped "
			      "over the CPU budget (--cpu-budget %" PRIu32
			      ", %.1f%% of a core): raise --cpu-budget or "
			      "lengthen --period", skipped, seen, budget,
			      budget / 10.0);
		return;
	}
	/* what one window cost: capture and decode, sensor CPU time */
	cost = (bs.capture_cpu_ns + lv->st.decode_ns) / done;
	need = (cost * 1000 + period * 1000000 - 1) / (period * 1000000);
	sa_live__note(lv, "%" PRIu64 " of %" PRIu64 " windows skipped over "
		      "the CPU budget: a window costs %.1f ms of CPU (capture "
		      "and decode), so the %s backend needs ~%.1f%% of a core "
		      "at this duty cycle (a window every %" PRIu64 " ms) and "
		      "the budget is %.1f%% (--cpu-budget %" PRIu32 "); raise "
		      "--cpu-budget (to %" PRIu64 " or more) or lengthen "
		      "--period", skipped, seen, (double)cost / 1e6,
		      sa_backend_name(lv->backend), (double)need / 10.0,
		      period, budget / 10.0, budget, need);
}
