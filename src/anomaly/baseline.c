// SPDX-License-Identifier: BSD-2-Clause
/*
 * The baseline store: SQLite, one file.
 *
 * Counts are REAL because decay makes them fractional.  Offsets are
 * stored as the 64-bit pattern of the ELF address (sqlite3 INTEGER is
 * signed; the bits round-trip).  Every add runs in one IMMEDIATE
 * transaction so that a concurrent reader never sees half a window and
 * bulk adds are fast.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sensor/baseline.h"
#include "sensor/file.h"
#include "sensor/log.h"

#include "array.h"
#include "model.h"
#include "store.h"

#define SA_BASELINE_FORMAT "sensor-agent-baseline"
/* as many as a history keeps per indirect branch */
#define SA_BASELINE_MAX_TARGETS 4096u
/* how long a sensor waits for another one's write before giving up */
#define SA_BASELINE_BUSY_MS 30000

struct sa_baseline {
	sqlite3 *db;
	char *path;
	bool rdonly;
	double half_life;
};

static const char *const schema_sql =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE builds(id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL,"
	" build_id TEXT NOT NULL, binary TEXT NOT NULL,"
	" windows REAL NOT NULL DEFAULT 0, added INTEGER NOT NULL DEFAULT 0,"
	" insns REAL NOT NULL DEFAULT 0, first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL);"
	"CREATE INDEX builds_binary ON builds(binary);"
	"CREATE TABLE funcs(build INTEGER NOT NULL, entry INTEGER NOT NULL,"
	" name TEXT NOT NULL, file TEXT, line INTEGER NOT NULL DEFAULT 0,"
	" calls REAL NOT NULL DEFAULT 0, insns REAL NOT NULL DEFAULT 0,"
	" sink_entries REAL NOT NULL DEFAULT 0, s_cc REAL NOT NULL DEFAULT 0,"
	" s_ee REAL NOT NULL DEFAULT 0, is_sink INTEGER NOT NULL DEFAULT 0,"
	" linkage_name TEXT,"
	" PRIMARY KEY(build, entry, name)) WITHOUT ROWID;"
	"CREATE TABLE branches(build INTEGER NOT NULL, offset INTEGER NOT NULL,"
	" func_entry INTEGER NOT NULL, func TEXT NOT NULL, file TEXT,"
	" line INTEGER NOT NULL DEFAULT 0, insn TEXT, callee TEXT,"
	" iclass INTEGER NOT NULL, executed REAL NOT NULL DEFAULT 0,"
	" taken REAL NOT NULL DEFAULT 0, not_taken REAL NOT NULL DEFAULT 0,"
	" sink_t REAL NOT NULL DEFAULT 0, sink_nt REAL NOT NULL DEFAULT 0,"
	" nwin REAL NOT NULL DEFAULT 0, s_tt REAL NOT NULL DEFAULT 0,"
	" s_ss REAL NOT NULL DEFAULT 0, tot REAL NOT NULL DEFAULT 0,"
	" nwin_t REAL NOT NULL DEFAULT 0,"
	" PRIMARY KEY(build, offset)) WITHOUT ROWID;"
	"CREATE TABLE targets(build INTEGER NOT NULL, offset INTEGER NOT NULL,"
	" key TEXT NOT NULL, sym TEXT NOT NULL, count REAL NOT NULL DEFAULT 0,"
	" s_kk REAL NOT NULL DEFAULT 0,"
	" PRIMARY KEY(build, offset, key)) WITHOUT ROWID;";

static int db_err(struct sa_baseline *bl, struct sa_errinfo *ei,
		  const char *what)
{
	return sa_errinfo_set(ei, -SA_ERR_CORRUPT, SA_NO_OFFSET,
			      "baseline %s: %s: %s", bl->path, what,
			      sqlite3_errmsg(bl->db));
}

static int exec(struct sa_baseline *bl, const char *sql,
		struct sa_errinfo *ei)
{
	if (sqlite3_exec(bl->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(bl, ei, sql);
	return 0;
}

/* Runs a query with one integer result. */
static int query_i64(struct sa_baseline *bl, const char *sql, int64_t *out,
		     struct sa_errinfo *ei)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(bl->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(bl, ei, "reading the file");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		*out = 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(bl, ei, "reading the file");
	return 0;
}

static int meta_get(struct sa_baseline *bl, const char *key, char *buf,
		    size_t size)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	if (sqlite3_prepare_v2(bl->db, "SELECT value FROM meta WHERE key=?",
			       -1, &st, NULL) != SQLITE_OK)
		return -SA_ERR_CORRUPT;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(buf, size, "%s",
			 (const char *)sqlite3_column_text(st, 0));
		found = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -SA_ERR_CORRUPT;
	return found;
}

static int meta_set(struct sa_baseline *bl, const char *key,
		    const char *val)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(bl->db,
			       "INSERT OR REPLACE INTO meta(key, value) "
			       "VALUES(?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return -SA_ERR_CORRUPT;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -SA_ERR_CORRUPT;
}

/* The layout version and the number of schema objects, read in one
 * statement: another sensor may be creating the file, and two reads
 * could see it before and after.
 */
static int read_state(struct sa_baseline *bl, int64_t *version,
		      int64_t *tables, struct sa_errinfo *ei)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(bl->db,
			       "SELECT (SELECT user_version FROM "
			       "pragma_user_version), (SELECT count(*) FROM "
			       "sqlite_master)", -1, &st, NULL) != SQLITE_OK)
		return db_err(bl, ei, "reading the file");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int64(st, 0);
		*tables = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_err(bl, ei, "reading the file");
	return 0;
}

/* Creates the tables of a new file.  Two sensors may create the same new
 * file at once: the check for an empty file is repeated inside the write
 * transaction, so the second one finds the tables of the first instead of
 * failing on them (and losing its windows).
 */
static int init_schema(struct sa_baseline *bl, struct sa_errinfo *ei)
{
	int64_t version, tables;
	char sql[64];
	int err;

	err = exec(bl, "BEGIN IMMEDIATE", ei);
	if (err)
		return err;
	err = read_state(bl, &version, &tables, ei);
	if (!err && (version || tables))
		goto commit;	/* created meanwhile; the caller checks it */
	if (!err)
		err = exec(bl, schema_sql, ei);
	if (!err && (meta_set(bl, "format", SA_BASELINE_FORMAT) ||
		     meta_set(bl, "half_life", "1000")))
		err = db_err(bl, ei, "writing the schema");
	if (!err) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
			 SA_BASELINE_SCHEMA_VERSION);
		err = exec(bl, sql, ei);
	}
	if (err) {
		sqlite3_exec(bl->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
commit:
	return exec(bl, "COMMIT", ei);
}

static int check_schema(struct sa_baseline *bl, struct sa_errinfo *ei)
{
	int64_t version, tables;
	char buf[64];
	int err;

	/* The first read of a file that is not SQLite fails here with
	 * "file is not a database".
	 */
	err = read_state(bl, &version, &tables, ei);
	if (err)
		return err;
	if (version == 0 && tables == 0) {
		if (bl->rdonly)
			return sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				"baseline %s is empty: create it with "
				"`sensor-agent baseline add --db %s WINDOW...`",
				bl->path, bl->path);
		err = init_schema(bl, ei);
		if (!err)
			err = read_state(bl, &version, &tables, ei);
		if (err)
			return err;
	}
	if (version == 0)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
			"%s is an SQLite file but not a sensor-agent baseline",
			bl->path);
	/* Version 1 keyed indirect targets by binary basename and, for
	 * code without an MMAP record (libc under record --emulate), by
	 * runtime address: those rows cannot be turned into identities.
	 */
	if (version == 1)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
			"baseline %s: schema version 1 keys indirect-branch "
			"targets by runtime address, which changes with every "
			"restart; this sensor-agent reads version %d (targets "
			"by build-id and link-time address): rebuild the "
			"baseline with `sensor-agent baseline add`", bl->path,
			SA_BASELINE_SCHEMA_VERSION);
	if (version != SA_BASELINE_SCHEMA_VERSION)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
			"baseline %s: schema version %" PRId64 ", this "
			"sensor-agent reads version %d: rebuild the baseline "
			"with `sensor-agent baseline add`", bl->path, version,
			SA_BASELINE_SCHEMA_VERSION);
	err = meta_get(bl, "format", buf, sizeof(buf));
	if (err < 0 || (err == 1 && strcmp(buf, SA_BASELINE_FORMAT)) ||
	    err == 0)
		return sa_errinfo_set(ei, -SA_ERR_UNSUPPORTED, SA_NO_OFFSET,
			"%s is an SQLite file but not a sensor-agent baseline",
			bl->path);
	err = meta_get(bl, "half_life", buf, sizeof(buf));
	if (err == 1) {
		char *end;
		double h = strtod(buf, &end);

		if (end != buf && h >= 0 && isfinite(h))
			bl->half_life = h;
	}
	return 0;
}

struct sa_baseline *sa_baseline__open(const char *path, unsigned flags,
				      struct sa_errinfo *ei)
{
	struct sa_baseline *bl;
	int oflags, err;

	sa_errinfo_clear(ei);
	if (!path || !*path) {
		sa_errinfo_set(ei, -SA_ERR_INVAL, SA_NO_OFFSET,
			       "no baseline file given (--db FILE)");
		errno = SA_ERR_INVAL;
		return NULL;
	}
	if (!(flags & SA_BASELINE_CREATE) && access(path, F_OK)) {
		sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
			       "baseline %s does not exist: create it with "
			       "`sensor-agent baseline add --db %s WINDOW...`",
			       path, path);
		errno = SA_ERR_NOTFOUND;
		return NULL;
	}
	bl = calloc(1, sizeof(*bl));
	if (!bl)
		return NULL;
	bl->path = strdup(path);
	if (!bl->path) {
		free(bl);
		return NULL;
	}
	bl->rdonly = flags & SA_BASELINE_RDONLY;
	bl->half_life = SA_BASELINE_DEF_HALF_LIFE;
	oflags = bl->rdonly ? SQLITE_OPEN_READONLY :
			      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	/* SQLite creates the file with the umask's mode and gives its
	 * -journal and -wal the database's mode: create it 0600 first.
	 */
	if (!bl->rdonly) {
		int fd = sa_file_create(path, O_RDWR);

		if (fd < 0) {
			err = sa_errinfo_set(ei, fd, SA_NO_OFFSET,
					     "baseline %s: cannot create: %s",
					     path, strerror(-fd));
			goto err_free;
		}
		close(fd);
	}
	if (sqlite3_open_v2(path, &bl->db, oflags, NULL) != SQLITE_OK) {
		err = sa_errinfo_set(ei, -SA_ERR_CORRUPT, SA_NO_OFFSET,
				     "baseline %s: cannot open: %s", path,
				     bl->db ? sqlite3_errmsg(bl->db) :
					      "out of memory");
		goto err_free;
	}
	/* Several sensors may share the file; wait rather than fail. */
	sqlite3_busy_timeout(bl->db, SA_BASELINE_BUSY_MS);
	err = check_schema(bl, ei);
	if (err)
		goto err_free;
	return bl;

err_free:
	sa_baseline__free(bl);
	errno = -err;
	return NULL;
}

void sa_baseline__free(struct sa_baseline *bl)
{
	if (!bl)
		return;
	sqlite3_close(bl->db);
	free(bl->path);
	free(bl);
}

const char *sa_baseline_path(const struct sa_baseline *bl)
{
	return bl->path;
}

int sa_baseline_set_half_life(struct sa_baseline *bl, double windows)
{
	char buf[64];

	if (!(windows >= 0) || !isfinite(windows))
		return -SA_ERR_INVAL;
	if (bl->rdonly)
		return -EROFS;
	snprintf(buf, sizeof(buf), "%.17g", windows);
	if (exec(bl, "BEGIN IMMEDIATE", NULL))
		return -SA_ERR_CORRUPT;
	if (meta_set(bl, "half_life", buf) || exec(bl, "COMMIT", NULL)) {
		sqlite3_exec(bl->db, "ROLLBACK", NULL, NULL, NULL);
		return -SA_ERR_CORRUPT;
	}
	bl->half_life = windows;
	return 0;
}

double sa_baseline_half_life(const struct sa_baseline *bl)
{
	return bl->half_life;
}

/* Prepared statements of one add. */
struct add_ctx {
	struct sa_baseline *bl;
	sqlite3_stmt *build_sel, *build_ins, *build_upd;
	sqlite3_stmt *func, *branch, *target;
	sqlite3_stmt *decay[4], *prune[3];
};

static const char *const add_sql[] = {
	"SELECT id FROM builds WHERE key=?1",
	"INSERT INTO builds(key, build_id, binary, first_seen, last_seen) "
	"VALUES(?1, ?2, ?3, ?4, ?4)",
	"UPDATE builds SET windows=windows+?2, added=added+?3, "
	"insns=insns+?4, last_seen=?5, binary=?6 WHERE id=?1",
	"INSERT INTO funcs(build, entry, name, file, line, calls, insns, "
	"sink_entries, s_cc, s_ee, is_sink, linkage_name) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
	"ON CONFLICT(build, entry, name) DO UPDATE SET "
	"linkage_name=coalesce(linkage_name, excluded.linkage_name), "
	"calls=calls+excluded.calls, insns=insns+excluded.insns, "
	"sink_entries=sink_entries+excluded.sink_entries, "
	"s_cc=s_cc+excluded.s_cc, s_ee=s_ee+excluded.s_ee, "
	"is_sink=max(is_sink, excluded.is_sink), "
	"file=coalesce(file, excluded.file), "
	"line=CASE WHEN file IS NULL THEN excluded.line ELSE line END",
	"INSERT INTO branches(build, offset, func_entry, func, file, line, "
	"insn, callee, iclass, executed, taken, not_taken, sink_t, sink_nt, "
	"nwin, s_tt, s_ss, tot, nwin_t) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
	"?15, ?16, ?17, ?18, ?19) "
	"ON CONFLICT(build, offset) DO UPDATE SET "
	"executed=executed+excluded.executed, taken=taken+excluded.taken, "
	"not_taken=not_taken+excluded.not_taken, "
	"sink_t=sink_t+excluded.sink_t, sink_nt=sink_nt+excluded.sink_nt, "
	"nwin=nwin+excluded.nwin, s_tt=s_tt+excluded.s_tt, "
	"s_ss=s_ss+excluded.s_ss, tot=tot+excluded.tot, "
	"nwin_t=nwin_t+excluded.nwin_t, "
	"file=coalesce(file, excluded.file), "
	"line=CASE WHEN file IS NULL THEN excluded.line ELSE line END, "
	"insn=coalesce(insn, excluded.insn), "
	"callee=coalesce(callee, excluded.callee)",
	"INSERT INTO targets(build, offset, key, sym, count, s_kk) "
	"VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
	"ON CONFLICT(build, offset, key) DO UPDATE SET "
	"count=count+excluded.count, s_kk=s_kk+excluded.s_kk",
};

static const char *const decay_sql[] = {
	"UPDATE builds SET windows=windows*?2, insns=insns*?2 WHERE id=?1",
	"UPDATE funcs SET calls=calls*?2, insns=insns*?2, "
	"sink_entries=sink_entries*?2, s_cc=s_cc*?2, s_ee=s_ee*?2 "
	"WHERE build=?1",
	"UPDATE branches SET executed=executed*?2, taken=taken*?2, "
	"not_taken=not_taken*?2, sink_t=sink_t*?2, sink_nt=sink_nt*?2, "
	"nwin=nwin*?2, s_tt=s_tt*?2, s_ss=s_ss*?2, tot=tot*?2, "
	"nwin_t=nwin_t*?2 WHERE build=?1",
	"UPDATE targets SET count=count*?2, s_kk=s_kk*?2 WHERE build=?1",
};

static const char *const prune_sql[] = {
	"DELETE FROM funcs WHERE build=?1 AND calls+insns+sink_entries<?2",
	"DELETE FROM branches WHERE build=?1 AND "
	"executed+taken+not_taken+tot<?2",
	"DELETE FROM targets WHERE build=?1 AND count<?2",
};

static void add_ctx_fini(struct add_ctx *c)
{
	size_t i;

	sqlite3_finalize(c->build_sel);
	sqlite3_finalize(c->build_ins);
	sqlite3_finalize(c->build_upd);
	sqlite3_finalize(c->func);
	sqlite3_finalize(c->branch);
	sqlite3_finalize(c->target);
	for (i = 0; i < 4; i++)
		sqlite3_finalize(c->decay[i]);
	for (i = 0; i < 3; i++)
		sqlite3_finalize(c->prune[i]);
}

static int add_ctx_init(struct add_ctx *c, struct sa_baseline *bl,
			struct sa_errinfo *ei)
{
	sqlite3_stmt **st[] = { &c->build_sel, &c->build_ins, &c->build_upd,
				&c->func, &c->branch, &c->target };
	size_t i;

	memset(c, 0, sizeof(*c));
	c->bl = bl;
	for (i = 0; i < 6; i++)
		if (sqlite3_prepare_v2(bl->db, add_sql[i], -1, st[i], NULL))
			goto err;
	for (i = 0; i < 4; i++)
		if (sqlite3_prepare_v2(bl->db, decay_sql[i], -1, &c->decay[i],
				       NULL))
			goto err;
	for (i = 0; i < 3; i++)
		if (sqlite3_prepare_v2(bl->db, prune_sql[i], -1, &c->prune[i],
				       NULL))
			goto err;
	return 0;
err:
	db_err(bl, ei, "preparing the statements");
	add_ctx_fini(c);
	return -SA_ERR_CORRUPT;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -SA_ERR_CORRUPT;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int build_id_of(struct add_ctx *c, const struct sa_mbuild *b,
		       int64_t now, int64_t *id)
{
	sqlite3_stmt *st = c->build_sel;
	int rc;

	sqlite3_bind_text(st, 1, b->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return -SA_ERR_CORRUPT;
	st = c->build_ins;
	sqlite3_bind_text(st, 1, b->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b->build_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, b->binary, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if (step_done(st))
		return -SA_ERR_CORRUPT;
	*id = sqlite3_last_insert_rowid(c->bl->db);
	return 0;
}

static int decay_build(struct add_ctx *c, int64_t id, double factor)
{
	size_t i;

	for (i = 0; i < 4; i++) {
		sqlite3_bind_int64(c->decay[i], 1, id);
		sqlite3_bind_double(c->decay[i], 2, factor);
		if (step_done(c->decay[i]))
			return -SA_ERR_CORRUPT;
	}
	for (i = 0; i < 3; i++) {
		sqlite3_bind_int64(c->prune[i], 1, id);
		sqlite3_bind_double(c->prune[i], 2, SA_BASELINE_PRUNE_BELOW);
		if (step_done(c->prune[i]))
			return -SA_ERR_CORRUPT;
	}
	return 0;
}

/* @idle: idle windows of the same add, credited to the build once. */
static int put_build(struct add_ctx *c, int64_t id,
		     const struct sa_mbuild *b, int64_t now, size_t idle)
{
	sqlite3_stmt *st;
	size_t i, j;

	st = c->build_upd;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_double(st, 2, b->windows + (double)idle);
	sqlite3_bind_int64(st, 3, (int64_t)(b->added + idle));
	sqlite3_bind_double(st, 4, b->insns);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, b->binary, -1, SQLITE_STATIC);
	if (step_done(st))
		return -SA_ERR_CORRUPT;

	st = c->func;
	for (i = 0; i < b->nr_funcs; i++) {
		const struct sa_mfunc *f = &b->funcs[i];

		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)f->entry);
		sqlite3_bind_text(st, 3, f->name, -1, SQLITE_STATIC);
		bind_text_or_null(st, 4, f->file);
		sqlite3_bind_int(st, 5, f->line);
		sqlite3_bind_double(st, 6, f->calls);
		sqlite3_bind_double(st, 7, f->insns);
		sqlite3_bind_double(st, 8, f->sink_entries);
		sqlite3_bind_double(st, 9, f->s_cc);
		sqlite3_bind_double(st, 10, f->s_ee);
		sqlite3_bind_int(st, 11, f->is_sink);
		bind_text_or_null(st, 12, f->linkage);
		if (step_done(st))
			return -SA_ERR_CORRUPT;
	}
	for (i = 0; i < b->nr_branches; i++) {
		const struct sa_mbranch *br = &b->branches[i];

		st = c->branch;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)br->offset);
		sqlite3_bind_int64(st, 3, (int64_t)br->func_entry);
		sqlite3_bind_text(st, 4, br->func, -1, SQLITE_STATIC);
		bind_text_or_null(st, 5, br->file);
		sqlite3_bind_int(st, 6, br->line);
		bind_text_or_null(st, 7, br->insn);
		bind_text_or_null(st, 8, br->callee);
		sqlite3_bind_int(st, 9, br->iclass);
		sqlite3_bind_double(st, 10, br->executed);
		sqlite3_bind_double(st, 11, br->taken);
		sqlite3_bind_double(st, 12, br->not_taken);
		sqlite3_bind_double(st, 13, br->sink_t);
		sqlite3_bind_double(st, 14, br->sink_nt);
		sqlite3_bind_double(st, 15, br->nwin);
		sqlite3_bind_double(st, 16, br->s_tt);
		sqlite3_bind_double(st, 17, br->s_ss);
		sqlite3_bind_double(st, 18, br->tot);
		sqlite3_bind_double(st, 19, br->nwin_t);
		if (step_done(st))
			return -SA_ERR_CORRUPT;
		st = c->target;
		for (j = 0; j < br->nr_targets; j++) {
			const struct sa_mtarget *t = &br->targets[j];

			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_int64(st, 2, (int64_t)br->offset);
			sqlite3_bind_text(st, 3, t->key, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, t->sym, -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 5, t->count);
			sqlite3_bind_double(st, 6, t->s_kk);
			if (step_done(st))
				return -SA_ERR_CORRUPT;
		}
	}
	return 0;
}

/* Rows of one build that might break an invariant, found inside SQLite
 * without loading them (an add per window of the live loop must stay
 * cheap).  The predicates are at least as wide as the loader's checks;
 * a hit is then loaded for the loader's verdict and message.
 */
#define C_OK(c) "(typeof(" c ") IN ('integer','real') AND " c " >= 0 AND " \
		c " <= 9007199254740992.0)"
#define C_INT(c) "typeof(" c ")='integer'"

static const char *const suspect_sql =
	"SELECT EXISTS(SELECT 1 FROM builds WHERE id=?1 AND NOT ("
	C_OK("windows") " AND " C_INT("added") " AND " C_OK("added") " AND "
	C_OK("insns") ")) OR "
	"EXISTS(SELECT 1 FROM funcs WHERE build=?1 AND NOT ("
	C_INT("entry") " AND " C_INT("line") " AND " C_INT("is_sink") " AND "
	C_OK("calls") " AND " C_OK("insns") " AND " C_OK("sink_entries")
	" AND " C_OK("s_cc") " AND " C_OK("s_ee") ")) OR "
	"EXISTS(SELECT 1 FROM branches WHERE build=?1 AND NOT ("
	C_INT("offset") " AND " C_INT("func_entry") " AND " C_INT("line")
	" AND " C_INT("iclass") " AND " C_OK("executed") " AND "
	C_OK("taken") " AND " C_OK("not_taken") " AND " C_OK("sink_t")
	" AND " C_OK("sink_nt") " AND " C_OK("nwin") " AND " C_OK("s_tt")
	" AND " C_OK("s_ss") " AND " C_OK("tot") " AND " C_OK("nwin_t")
	" AND taken + not_taken <= executed + executed * 1e-9 + 1e-9)) OR "
	"EXISTS(SELECT 1 FROM targets WHERE build=?1 AND NOT ("
	C_INT("offset") " AND " C_OK("count") " AND " C_OK("s_kk") "))";

#undef C_OK
#undef C_INT

/* Checks the stored rows of the build @key, if there is one, as loading
 * it for a comparison does.
 */
static int check_build(struct sa_baseline *bl, const char *key,
		       struct sa_errinfo *ei)
{
	sqlite3_stmt *st;
	struct sa_mbuild b;
	int64_t id = 0, bad = 0;
	int rc, err;

	if (sqlite3_prepare_v2(bl->db, "SELECT id FROM builds WHERE key=?",
			       -1, &st, NULL))
		return db_err(bl, ei, "looking up a build");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;	/* a new build */
	if (rc != SQLITE_ROW)
		return db_err(bl, ei, "looking up a build");
	if (sqlite3_prepare_v2(bl->db, suspect_sql, -1, &st, NULL))
		return db_err(bl, ei, "checking the rows");
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		bad = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_err(bl, ei, "checking the rows");
	if (!bad)
		return 0;
	err = sa_baseline_load(bl, key, &b, ei);
	if (!err)
		sa_mbuild_fini(&b);
	return err;
}

int sa_baseline_add(struct sa_baseline *bl, struct sa_hist *const *hists,
		    size_t nr, struct sa_errinfo *ei)
{
	struct sa_model **models;
	struct add_ctx c;
	int64_t now = (int64_t)time(NULL);
	size_t i, j, k, idle = 0;
	bool checked = false;
	int err = 0;

	sa_errinfo_clear(ei);
	if (bl->rdonly)
		return sa_errinfo_set(ei, -EROFS, SA_NO_OFFSET,
				      "baseline %s is open read-only",
				      bl->path);
	models = calloc(nr ? nr : 1, sizeof(*models));
	if (!models)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		models[i] = sa_model_from_hist(hists[i]);
		if (!models[i]) {
			err = -ENOMEM;
			goto out_models;
		}
		if (!models[i]->nr_builds &&
		    sa_hist_decode(hists[i])->idle_windows &&
		    !sa_hist_decode(hists[i])->instructions) {
			idle++;
			continue;
		}
		if (!models[i]->nr_builds) {
			err = sa_errinfo_set(ei, -SA_ERR_NODATA, SA_NO_OFFSET,
				"window %zu holds no function of a known "
				"binary: nothing to add to the baseline", i);
			goto out_models;
		}
	}
	err = add_ctx_init(&c, bl, ei);
	if (err)
		goto out_models;
	err = exec(bl, "BEGIN IMMEDIATE", ei);
	if (err)
		goto out_ctx;

	/* Decay once per build, by all the windows of this add: windows
	 * added together weigh the same.
	 */
	for (i = 0; i < nr && !err; i++) {
		for (j = 0; j < models[i]->nr_builds && !err; j++) {
			const struct sa_mbuild *b = &models[i]->builds[j];
			size_t n = 0, first = 1;
			int64_t id;

			for (k = 0; k < nr; k++)
				if (sa_model_find_build(models[k], b->key)) {
					if (k < i)
						first = 0;
					n++;
				}
			/* The sums are added onto the stored rows: a row
			 * that breaks the invariants would carry its lie
			 * into every later window.  Checked inside the
			 * transaction, so no other writer slips one in.
			 */
			if (first) {
				err = check_build(bl, b->key, ei);
				if (err) {
					checked = true;
					break;
				}
			}
			/* idle windows were windows of these builds too */
			n += idle;
			err = build_id_of(&c, b, now, &id);
			if (err)
				break;
			if (first && bl->half_life > 0)
				err = decay_build(&c, id,
					pow(2.0, -(double)n / bl->half_life));
			if (!err)
				err = put_build(&c, id, b, now,
						first ? idle : 0);
		}
	}
	if (err) {
		if (!checked)
			db_err(bl, ei, "adding windows");
		sqlite3_exec(bl->db, "ROLLBACK", NULL, NULL, NULL);
		goto out_ctx;
	}
	err = exec(bl, "COMMIT", ei);
out_ctx:
	add_ctx_fini(&c);
out_models:
	for (i = 0; i < nr; i++)
		sa_model__free(models[i]);
	free(models);
	return err;
}

#define BUILD_COLS \
	"SELECT key, build_id, binary, windows, added, insns, first_seen, " \
	"last_seen, (SELECT count(*) FROM funcs WHERE build=id), " \
	"(SELECT count(*) FROM branches WHERE build=id) FROM builds "

static void copy_col(sqlite3_stmt *st, int i, char *buf, size_t size)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(buf, size, "%s", s ? (const char *)s : "");
}

static void fill_build(sqlite3_stmt *st, struct sa_baseline_build *out)
{
	memset(out, 0, sizeof(*out));
	copy_col(st, 0, out->key, sizeof(out->key));
	copy_col(st, 1, out->build_id, sizeof(out->build_id));
	copy_col(st, 2, out->binary, sizeof(out->binary));
	out->windows = sqlite3_column_double(st, 3);
	out->added = (uint64_t)sqlite3_column_int64(st, 4);
	out->insns = sqlite3_column_double(st, 5);
	out->first_seen = sqlite3_column_int64(st, 6);
	out->last_seen = sqlite3_column_int64(st, 7);
	out->functions = (uint64_t)sqlite3_column_int64(st, 8);
	out->branches = (uint64_t)sqlite3_column_int64(st, 9);
}

int sa_baseline_nr_builds(struct sa_baseline *bl)
{
	int64_t n = 0;
	int err = query_i64(bl, "SELECT count(*) FROM builds", &n, NULL);

	return err ? err : (int)n;
}

int sa_baseline_build_at(struct sa_baseline *bl, size_t idx,
			 struct sa_baseline_build *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(bl->db,
			       BUILD_COLS "ORDER BY binary, last_seen, id "
			       "LIMIT 1 OFFSET ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -SA_ERR_CORRUPT;
	sqlite3_bind_int64(st, 1, (int64_t)idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fill_build(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -SA_ERR_NOTFOUND : -SA_ERR_CORRUPT;
}

int sa_baseline_find_build(struct sa_baseline *bl, const char *what,
			   struct sa_baseline_build *out,
			   struct sa_errinfo *ei)
{
	static const char *const sql[] = {
		BUILD_COLS "WHERE key=?1",
		BUILD_COLS "WHERE length(?1)>=8 AND build_id<>'' AND "
			   "substr(build_id, 1, length(?1))=lower(?1) "
			   "ORDER BY last_seen DESC",
		BUILD_COLS "WHERE binary=?1 ORDER BY last_seen DESC, id DESC",
	};
	char known[256], real[PATH_MAX];
	size_t i;
	int rc = SQLITE_DONE;

	/* A binary given by a relative path is stored by its full path. */
	for (i = 0; i < 4; i++) {
		const char *key = what;
		sqlite3_stmt *st;

		if (i == 3) {
			if (!strchr(what, '/') || !realpath(what, real))
				break;
			key = real;
		}
		if (sqlite3_prepare_v2(bl->db, sql[i < 3 ? i : 2], -1, &st,
				       NULL))
			return db_err(bl, ei, "looking up a build");
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			fill_build(st, out);
		sqlite3_finalize(st);
		if (rc == SQLITE_ROW)
			return 0;
		if (rc != SQLITE_DONE)
			return db_err(bl, ei, "looking up a build");
	}
	sa_baseline_describe(bl, known, sizeof(known));
	return sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
			      "baseline %s has no build '%s' (it holds: %s)",
			      bl->path, what, known);
}

int sa_baseline_describe(struct sa_baseline *bl, char *buf, size_t size)
{
	sqlite3_stmt *st;
	size_t len = 0, n = 0;
	int rc;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(bl->db,
			       "SELECT binary, build_id FROM builds "
			       "ORDER BY last_seen DESC LIMIT 5",
			       -1, &st, NULL))
		return -SA_ERR_CORRUPT;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && len < size) {
		const char *bin = (const char *)sqlite3_column_text(st, 0);
		const char *id = (const char *)sqlite3_column_text(st, 1);
		int w = snprintf(buf + len, size - len, "%s%s [%.12s]",
				 n ? ", " : "", bin ? bin : "",
				 id && *id ? id : "no build-id");

		if (w < 0)
			break;
		len += (size_t)w;
		n++;
	}
	sqlite3_finalize(st);
	if (!n)
		snprintf(buf, size, "no builds");
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -SA_ERR_CORRUPT;
}

int sa_baseline_other_build(struct sa_baseline *bl, const char *binary,
			    const char *key, char *buf, size_t size)
{
	const char *base = strrchr(binary, '/');
	sqlite3_stmt *st;
	int rc, found = 0;

	base = base ? base + 1 : binary;
	/* Match by file name: the same program may be installed under
	 * another directory on another host.
	 */
	if (sqlite3_prepare_v2(bl->db,
			       "SELECT build_id, key FROM builds WHERE key<>?2 "
			       "AND (binary=?1 OR binary LIKE '%/' || ?1) "
			       "ORDER BY last_seen DESC, id DESC LIMIT 1",
			       -1, &st, NULL))
		return -SA_ERR_CORRUPT;
	sqlite3_bind_text(st, 1, base, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);

		if (!id || !*id)
			id = (const char *)sqlite3_column_text(st, 1);
		snprintf(buf, size, "%s", id ? id : "");
		found = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -SA_ERR_CORRUPT;
	return found;
}

static char *col_dup(sqlite3_stmt *st, int i, int *err)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	char *d;

	if (!s)
		return NULL;
	d = strdup((const char *)s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

/*
 * Every value read back is checked: a count is a finite number in
 * [0, 2^53] (beyond, a double no longer counts by ones, and the tests
 * would run on noise), an offset, line or class an integer, and a branch
 * never decided more often than it ran.  A row that breaks them was
 * edited or damaged; the detector must not turn it into anomalies.
 */
#define SA_BASELINE_MAX_COUNT 9007199254740992.0	/* 2^53 */

struct row_ref {
	const char *table;
	char key[96];		/* the row: rowid or primary key */
	int type[20];		/* storage classes, before conversions */
};

/* Takes the storage classes of the row first: reading a column converts
 * it, and its type is undefined afterwards.
 */
static void row_init(struct row_ref *r, const char *table, sqlite3_stmt *st)
{
	int i, n = sqlite3_column_count(st);

	memset(r, 0, sizeof(*r));
	r->table = table;
	for (i = 0; i < n && i < 20; i++)
		r->type[i] = sqlite3_column_type(st, i);
}

static const char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? (const char *)s : "NULL";
}

static int row_err(struct sa_baseline *bl, const struct row_ref *r,
		   struct sa_errinfo *ei, const char *what)
{
	return sa_errinfo_set(ei, -SA_ERR_CORRUPT, SA_NO_OFFSET,
		"baseline %s: table %s, row %s: %s: the file was edited or "
		"is damaged; rebuild it with `sensor-agent baseline add` (or "
		"remove the row)", bl->path, r->table, r->key, what);
}

/* Reads column @i as a count; @out may be NULL. */
static int col_count(struct sa_baseline *bl, sqlite3_stmt *st, int i,
		     const struct row_ref *r, double *out,
		     struct sa_errinfo *ei)
{
	const char *name = sqlite3_column_name(st, i);
	int type = r->type[i];
	char what[160];
	double v;

	if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) {
		snprintf(what, sizeof(what), "%s is not a number (%s)", name,
			 type == SQLITE_NULL ? "NULL" :
			 type == SQLITE_TEXT ? "text" : "blob");
		return row_err(bl, r, ei, what);
	}
	v = sqlite3_column_double(st, i);
	if (!isfinite(v) || v < 0 || v > SA_BASELINE_MAX_COUNT) {
		snprintf(what, sizeof(what), "%s is %g, %s", name, v,
			 !isfinite(v) ? "not finite" :
			 v < 0 ? "negative" : "over 2^53");
		return row_err(bl, r, ei, what);
	}
	if (out)
		*out = v;
	return 0;
}

/* Column @i must be stored as an integer. */
static int col_int(struct sa_baseline *bl, sqlite3_stmt *st, int i,
		   const struct row_ref *r, struct sa_errinfo *ei)
{
	char what[160];

	if (r->type[i] == SQLITE_INTEGER)
		return 0;
	snprintf(what, sizeof(what), "%s is not an integer (%s)",
		 sqlite3_column_name(st, i), col_str(st, i));
	return row_err(bl, r, ei, what);
}

/* Columns [@from, @to) of @st as counts. */
static int col_counts(struct sa_baseline *bl, sqlite3_stmt *st, int from,
		      int to, const struct row_ref *r, struct sa_errinfo *ei)
{
	int i, err;

	for (i = from; i < to; i++) {
		err = col_count(bl, st, i, r, NULL, ei);
		if (err)
			return err;
	}
	return 0;
}

/* Decay rounds each sum on its own: allow for a few ulps. */
static bool sum_exceeds(double part, double whole)
{
	return part > whole + whole * 1e-9 + 1e-9;
}

static int load_rows(struct sa_baseline *bl, int64_t id,
		     struct sa_mbuild *b, struct sa_errinfo *ei)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc, err = 0;

	if (sqlite3_prepare_v2(bl->db,
			       "SELECT entry, name, file, line, calls, insns, "
			       "sink_entries, s_cc, s_ee, is_sink, "
			       "linkage_name FROM funcs "
			       "WHERE build=?",
			       -1, &st, NULL))
		return db_err(bl, ei, "loading functions");
	sqlite3_bind_int64(st, 1, id);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sa_mfunc *f;
		struct row_ref r;

		row_init(&r, "funcs", st);
		snprintf(r.key, sizeof(r.key), "(build %" PRId64 ", entry %#"
			 PRIx64 ", name %.40s)", id,
			 (uint64_t)sqlite3_column_int64(st, 0),
			 col_str(st, 1));
		err = col_int(bl, st, 0, &r, ei);
		if (!err)
			err = col_int(bl, st, 3, &r, ei);
		if (!err)
			err = col_int(bl, st, 9, &r, ei);
		if (!err)
			err = col_counts(bl, st, 4, 9, &r, ei);
		if (err)
			break;
		err = sa_array_reserve((void **)&b->funcs, &cap, b->nr_funcs,
				       sizeof(*f), 256, SA_BASELINE_MAX_FUNCS);
		if (err)
			break;
		f = &b->funcs[b->nr_funcs++];
		memset(f, 0, sizeof(*f));
		f->entry = (uint64_t)sqlite3_column_int64(st, 0);
		f->name = col_dup(st, 1, &err);
		f->file = col_dup(st, 2, &err);
		f->line = sqlite3_column_int(st, 3);
		f->calls = sqlite3_column_double(st, 4);
		f->insns = sqlite3_column_double(st, 5);
		f->sink_entries = sqlite3_column_double(st, 6);
		f->s_cc = sqlite3_column_double(st, 7);
		f->s_ee = sqlite3_column_double(st, 8);
		f->is_sink = sqlite3_column_int(st, 9);
		f->linkage = col_dup(st, 10, &err);
		if (!f->name && !err)
			err = -ENOMEM;
	}
	sqlite3_finalize(st);
	if (!err && rc != SQLITE_DONE)
		return db_err(bl, ei, "loading functions");
	if (err)
		goto out;

	cap = 0;
	if (sqlite3_prepare_v2(bl->db,
			       "SELECT offset, func_entry, func, file, line, "
			       "insn, callee, iclass, executed, taken, "
			       "not_taken, sink_t, sink_nt, nwin, s_tt, s_ss, "
			       "tot, nwin_t FROM branches WHERE build=?",
			       -1, &st, NULL))
		return db_err(bl, ei, "loading branches");
	sqlite3_bind_int64(st, 1, id);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sa_mbranch *br;
		struct row_ref r;

		row_init(&r, "branches", st);
		snprintf(r.key, sizeof(r.key), "(build %" PRId64 ", offset %#"
			 PRIx64 ")", id, (uint64_t)sqlite3_column_int64(st, 0));
		err = col_int(bl, st, 0, &r, ei);
		if (!err)
			err = col_int(bl, st, 1, &r, ei);
		if (!err)
			err = col_int(bl, st, 4, &r, ei);
		if (!err)
			err = col_int(bl, st, 7, &r, ei);
		if (!err)
			err = col_counts(bl, st, 8, 18, &r, ei);
		if (err)
			break;
		err = sa_array_reserve((void **)&b->branches, &cap,
				       b->nr_branches, sizeof(*br), 1024,
				       SA_BASELINE_MAX_BRANCHES);
		if (err)
			break;
		br = &b->branches[b->nr_branches++];
		memset(br, 0, sizeof(*br));
		br->offset = (uint64_t)sqlite3_column_int64(st, 0);
		br->func_entry = (uint64_t)sqlite3_column_int64(st, 1);
		br->func = col_dup(st, 2, &err);
		br->file = col_dup(st, 3, &err);
		br->line = sqlite3_column_int(st, 4);
		br->insn = col_dup(st, 5, &err);
		br->callee = col_dup(st, 6, &err);
		br->iclass = (uint8_t)sqlite3_column_int(st, 7);
		br->executed = sqlite3_column_double(st, 8);
		br->taken = sqlite3_column_double(st, 9);
		br->not_taken = sqlite3_column_double(st, 10);
		br->sink_t = sqlite3_column_double(st, 11);
		br->sink_nt = sqlite3_column_double(st, 12);
		br->nwin = sqlite3_column_double(st, 13);
		br->s_tt = sqlite3_column_double(st, 14);
		br->s_ss = sqlite3_column_double(st, 15);
		br->tot = sqlite3_column_double(st, 16);
		br->nwin_t = sqlite3_column_double(st, 17);
		if (!br->func && !err)
			err = -ENOMEM;
		if (!err && sum_exceeds(br->taken + br->not_taken,
					br->executed)) {
			char what[160];

			snprintf(what, sizeof(what), "taken + not_taken "
				 "(%.17g + %.17g) exceeds executed (%.17g)",
				 br->taken, br->not_taken, br->executed);
			err = row_err(bl, &r, ei, what);
		}
	}
	sqlite3_finalize(st);
	if (!err && rc != SQLITE_DONE)
		return db_err(bl, ei, "loading branches");
	if (err)
		goto out;
	sa_mbuild_sort(b);

	if (sqlite3_prepare_v2(bl->db,
			       "SELECT offset, key, sym, count, s_kk FROM "
			       "targets WHERE build=? ORDER BY offset",
			       -1, &st, NULL))
		return db_err(bl, ei, "loading targets");
	sqlite3_bind_int64(st, 1, id);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sa_mbranch *br;
		struct sa_mtarget *t;
		struct row_ref r;

		row_init(&r, "targets", st);
		br = (struct sa_mbranch *)sa_mbuild_branch(
			b, (uint64_t)sqlite3_column_int64(st, 0));
		snprintf(r.key, sizeof(r.key), "(build %" PRId64 ", offset %#"
			 PRIx64 ", key %.40s)", id,
			 (uint64_t)sqlite3_column_int64(st, 0),
			 col_str(st, 1));
		err = col_int(bl, st, 0, &r, ei);
		if (!err)
			err = col_counts(bl, st, 3, 5, &r, ei);
		if (err)
			break;
		if (!br)
			continue;	/* pruned branch, orphan target */
		if (br->nr_targets >= SA_BASELINE_MAX_TARGETS) {
			err = -SA_ERR_TOOBIG;
			break;
		}
		t = realloc(br->targets, (br->nr_targets + 1) * sizeof(*t));
		if (!t) {
			err = -ENOMEM;
			break;
		}
		br->targets = t;
		t = &br->targets[br->nr_targets++];
		memset(t, 0, sizeof(*t));
		t->key = col_dup(st, 1, &err);
		t->sym = col_dup(st, 2, &err);
		t->count = sqlite3_column_double(st, 3);
		t->s_kk = sqlite3_column_double(st, 4);
		if ((!t->key || !t->sym) && !err)
			err = -ENOMEM;
	}
	sqlite3_finalize(st);
	if (!err && rc != SQLITE_DONE)
		return db_err(bl, ei, "loading targets");
	sa_mbuild_sort(b);
out:
	if (err == -SA_ERR_CORRUPT)
		return err;	/* a bad row, @ei says which */
	if (err == -SA_ERR_TOOBIG)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
			"baseline %s: build %s has more than %u functions, "
			"%u branches or %u targets of one branch (the limits)", bl->path,
			b->key, SA_BASELINE_MAX_FUNCS, SA_BASELINE_MAX_BRANCHES,
			SA_BASELINE_MAX_TARGETS);
	if (err)
		return sa_errinfo_set(ei, err, SA_NO_OFFSET,
				      "baseline %s: out of memory loading %s",
				      bl->path, b->key);
	return 0;
}

int sa_baseline_load(struct sa_baseline *bl, const char *key,
		     struct sa_mbuild *out, struct sa_errinfo *ei)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	int rc, err;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(bl->db,
			       "SELECT id, key, build_id, binary, windows, "
			       "added, insns FROM builds WHERE key=?",
			       -1, &st, NULL))
		return db_err(bl, ei, "looking up a build");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	err = 0;
	if (rc == SQLITE_ROW) {
		struct row_ref r;

		row_init(&r, "builds", st);
		id = sqlite3_column_int64(st, 0);
		snprintf(r.key, sizeof(r.key), "(rowid %" PRId64 ", key %.40s)",
			 id, col_str(st, 1));
		if (col_count(bl, st, 4, &r, NULL, ei) ||
		    col_int(bl, st, 5, &r, ei) ||
		    col_count(bl, st, 5, &r, NULL, ei) ||
		    col_count(bl, st, 6, &r, NULL, ei)) {
			sqlite3_finalize(st);
			return -SA_ERR_CORRUPT;
		}
		out->key = col_dup(st, 1, &err);
		out->build_id = col_dup(st, 2, &err);
		out->binary = col_dup(st, 3, &err);
		out->windows = sqlite3_column_double(st, 4);
		out->added = (uint64_t)sqlite3_column_int64(st, 5);
		out->insns = sqlite3_column_double(st, 6);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return sa_errinfo_set(ei, -SA_ERR_NOTFOUND, SA_NO_OFFSET,
				      "baseline %s has no build %s", bl->path,
				      key);
	if (rc != SQLITE_ROW)
		return db_err(bl, ei, "looking up a build");
	if (err || !out->key || !out->build_id || !out->binary) {
		sa_mbuild_fini(out);
		return -ENOMEM;
	}
	err = load_rows(bl, id, out, ei);
	if (err)
		sa_mbuild_fini(out);
	return err;
}

int sa_baseline_check(struct sa_baseline *bl, struct sa_errinfo *ei)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, err = 0;

	sa_errinfo_clear(ei);
	/* One read transaction: the builds listed are the builds checked. */
	err = exec(bl, "BEGIN", ei);
	if (err)
		return err;
	if (sqlite3_prepare_v2(bl->db, "SELECT key FROM builds ORDER BY id",
			       -1, &st, NULL)) {
		err = db_err(bl, ei, "reading the builds");
		goto out;
	}
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *key = sqlite3_column_text(st, 0);

		err = check_build(bl, key ? (const char *)key : "", ei);
	}
	sqlite3_finalize(st);
	if (!err && rc != SQLITE_DONE)
		err = db_err(bl, ei, "reading the builds");
out:
	sqlite3_exec(bl->db, "COMMIT", NULL, NULL, NULL);
	return err;
}

int sa_baseline_for_each_branch(struct sa_baseline *bl, const char *what,
				sa_baseline_branch_fn fn, void *ctx,
				struct sa_errinfo *ei)
{
	struct sa_baseline_build bb;
	struct sa_mbuild b;
	size_t i;
	int err;

	err = sa_baseline_find_build(bl, what, &bb, ei);
	if (err)
		return err;
	err = sa_baseline_load(bl, bb.key, &b, ei);
	if (err)
		return err;
	for (i = 0; i < b.nr_branches && !err; i++) {
		const struct sa_mbranch *mb = &b.branches[i];
		struct sa_baseline_branch out = {
			.offset = mb->offset,
			.func_entry = mb->func_entry,
			.function = mb->func,
			.file = mb->file,
			.line = mb->line,
			.executed = mb->executed,
			.taken = mb->taken,
			.not_taken = mb->not_taken,
		};

		if (mb->iclass != SA_IC_COND)
			continue;
		err = fn(ctx, &out);
	}
	sa_mbuild_fini(&b);
	return err;
}
