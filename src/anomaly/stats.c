// SPDX-License-Identifier: BSD-2-Clause
/*
 * Statistics of the detector.  The p-values are carried as log10 so that
 * strong effects on large windows still rank against each other instead
 * of all underflowing to 0.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "stats.h"

double sa_chi2_1_log10_sf(double x)
{
	double z, l;

	if (!(x > 0))
		return 0;
	/* P(chi2_1 > x) = erfc(sqrt(x / 2)). */
	z = sqrt(x / 2);
	if (z < 25)
		return log10(erfc(z));
	/* Asymptotic expansion of erfc for large z (relative error below
	 * 1e-6 at z = 25).
	 */
	l = -z * z - log(z * sqrt(M_PI)) + log1p(-1 / (2 * z * z));
	return l / M_LN10;
}

static double xlogx_over(double o, double e)
{
	if (o <= 0 || e <= 0)
		return 0;
	return o * log(o / e);
}

double sa_g_2x2(double a, double b, double c, double d)
{
	double r1 = a + b, r2 = c + d, c1 = a + c, c2 = b + d;
	double n = r1 + r2, g;

	if (r1 <= 0 || r2 <= 0 || c1 <= 0 || c2 <= 0)
		return 0;
	g = xlogx_over(a, r1 * c1 / n) + xlogx_over(b, r1 * c2 / n) +
	    xlogx_over(c, r2 * c1 / n) + xlogx_over(d, r2 * c2 / n);
	return g > 0 ? 2 * g : 0;
}

double sa_g_rates(double x, double ex, double y, double ey)
{
	double tot = x + y, g;

	if (tot <= 0 || ex <= 0 || ey <= 0)
		return 0;
	g = xlogx_over(x, tot * ex / (ex + ey)) +
	    xlogx_over(y, tot * ey / (ex + ey));
	return g > 0 ? 2 * g : 0;
}

double sa_phi_binom(double t, double n, double s_tt, double w)
{
	double p, chi2, phi;

	if (w < 2 || n <= 0)
		return 1;
	p = t / n;
	if (p <= 0 || p >= 1)
		return 1;
	chi2 = (s_tt - 2 * p * t + p * p * n) / (p * (1 - p));
	phi = chi2 / (w - 1);
	return phi > 1 && isfinite(phi) ? phi : 1;
}

double sa_phi_pois(double c, double e, double s_cc, double w)
{
	double lambda, chi2, phi;

	if (w < 2 || c <= 0 || e <= 0)
		return 1;
	lambda = c / e;
	chi2 = s_cc / lambda - c;
	phi = chi2 / (w - 1);
	return phi > 1 && isfinite(phi) ? phi : 1;
}

struct bh_ent {
	double lp;
	size_t idx;
};

static int cmp_bh(const void *a, const void *b)
{
	const struct bh_ent *x = a, *y = b;

	if (x->lp != y->lp)
		return x->lp < y->lp ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int sa_bh_log10(const double *log10p, double *log10q, size_t n)
{
	struct bh_ent *e;
	double run = 0;
	size_t i;

	if (!n)
		return 0;
	e = calloc(n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		e[i].lp = log10p[i];
		e[i].idx = i;
	}
	qsort(e, n, sizeof(*e), cmp_bh);
	/* q_(i) = min over j >= i of p_(j) * n / j. */
	for (i = n; i-- > 0;) {
		double q = e[i].lp + log10((double)n / (double)(i + 1));

		if (i == n - 1 || q < run)
			run = q;
		log10q[e[i].idx] = run < 0 ? run : 0;
	}
	free(e);
	return 0;
}
