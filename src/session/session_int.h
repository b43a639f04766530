/* SPDX-License-Identifier: BSD-2-Clause */
/* Private to src/session. */
#ifndef SA_SESSION_INT_H
#define SA_SESSION_INT_H

#include "decoder.h"
#include "sensor/hist.h"
#include "sensor/image.h"
#include "sensor/session.h"
#include "sensor/sites.h"

struct sa_session {
	const char *name;		/* input, for messages */
	const struct sa_decode_opts *o;
	struct sa_hist *h;
	struct sa_image *img;
	struct sa_sitemap *sites;
	struct sa_hist_builder *b;
	uint64_t total, next_progress;
	struct sa_flow_info fi;		/* for o->flow_fn */
};

int sa_session_init(struct sa_session *s, const char *name,
		    const struct sa_decode_opts *o, struct sa_hist *h,
		    enum sa_arch arch);
int sa_session_start(struct sa_session *s);
void sa_session_fini(struct sa_session *s);
int sa_session_run(struct sa_session *s, struct sa_dec *dec,
		   uint64_t base_offset);
int sa_session_check_result(struct sa_session *s, struct sa_errinfo *ei);
void sa_session_progress(struct sa_session *s, uint64_t done);

int sa_session_add_user_code(struct sa_session *s, struct sa_errinfo *ei);
void *sa_session_map_file(const char *path, size_t *len,
			  struct sa_errinfo *ei);

int sa_decode_perf_data(const char *path, const struct sa_decode_opts *o,
			struct sa_hist *h, struct sa_errinfo *ei);

#endif /* SA_SESSION_INT_H */
