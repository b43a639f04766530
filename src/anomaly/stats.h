/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private: the statistics of the detector.
 */
#ifndef SA_ANOMALY_STATS_H
#define SA_ANOMALY_STATS_H

#include <stddef.h>

/* log10 of the upper tail of chi-square with 1 degree of freedom at @x,
 * exact where the tail underflows a double.
 */
double sa_chi2_1_log10_sf(double x);

/* Likelihood-ratio (G) statistic of the 2x2 table [a b; c d]. */
double sa_g_2x2(double a, double b, double c, double d);

/* G statistic comparing Poisson counts @x over exposure @ex with @y over
 * @ey (conditional binomial test).
 */
double sa_g_rates(double x, double ex, double y, double ey);

/* Over-dispersion of binomial counts: Pearson chi-square / (windows - 1)
 * from the sums t = sum t_i, n = sum n_i, s_tt = sum t_i^2 / n_i over
 * @w windows; at least 1.
 */
double sa_phi_binom(double t, double n, double s_tt, double w);

/* Over-dispersion of Poisson counts c_i over exposures e_i from c = sum
 * c_i, e = sum e_i, s_cc = sum c_i^2 / e_i over @w windows; at least 1.
 */
double sa_phi_pois(double c, double e, double s_cc, double w);

/* Benjamini-Hochberg: from @log10p[0..n) writes @log10q (may alias). */
int sa_bh_log10(const double *log10p, double *log10q, size_t n);

#endif /* SA_ANOMALY_STATS_H */
