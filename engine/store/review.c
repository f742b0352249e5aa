/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The review queue: the index of pending review events (store/review.h),
 * the resolution event's layout (stopgate.h, "the review queue") and the
 * public calls that list and resolve reviews. Recording is sg_record's
 * (store/log.c), which calls sg__review_check() and sg__review_index_note()
 * in the transaction that appends the event.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"
#include "store/event.h"
#include "store/event_value.h"
#include "store/review.h"
#include "store/store.h"

#define SCRATCH (SG__EVENT_ENC_MAX + 64)
#define RULE_OPT_OUT "review:opt_out"
#define RULE_OPT_IN "review:opt_in"
#define RULE_NONE "review:none"
#define BUILT_KEY "built"

/* ---- the resolution's note: "review=<seq>; by=<who>; why=<why>" ---- */

static const char *const decisions[] = {[SG_REVIEW_NONE] = "none", [SG_REVIEW_OPT_OUT] = "opt_out",
					[SG_REVIEW_OPT_IN] = "opt_in"};

const char *sg_review_decision_name(sg_review_decision d)
{
	return (unsigned)d < SG_ARRAY_SIZE(decisions) ? decisions[d] : "unknown";
}

int sg_review_decision_parse(const char *name, sg_review_decision *ret)
{
	for (size_t i = 0; name && i < SG_ARRAY_SIZE(decisions); i++)
		if (!strcmp(name, decisions[i])) {
			*ret = (sg_review_decision)i;
			return 0;
		}
	return -EINVAL;
}

int sg__review_rule_decision(const char *rule, sg_review_decision *ret)
{
	if (rule && !strcmp(rule, RULE_OPT_OUT))
		*ret = SG_REVIEW_OPT_OUT;
	else if (rule && !strcmp(rule, RULE_OPT_IN))
		*ret = SG_REVIEW_OPT_IN;
	else if (rule && !strcmp(rule, RULE_NONE))
		*ret = SG_REVIEW_NONE;
	else
		return -EINVAL;
	return 0;
}

/* who: 1..SG_REVIEW_BY_MAX bytes of UTF-8, no control character, no ';'
 * (it ends the field in the note). why: 1..SG_REVIEW_NOTE_MAX bytes of
 * UTF-8, no control character but tab and newline. */
static int text_ok(const char *s, size_t max, bool is_by, const char **detail)
{
	const char *what = is_by ? "by: who decided, 1 to 64 bytes of UTF-8 without control characters or ';'"
				 : "note: why, 1 to 1024 bytes of UTF-8 without control characters "
				   "(tab and newline allowed)";
	size_t n = s ? strlen(s) : 0;
	int rc = 0;
	if (n == 0)
		rc = -EINVAL;
	else if (n > max)
		rc = SG_ETOOLONG;
	else if (sg__utf8_count(s, n) < 0)
		rc = SG_EUTF8;
	for (size_t i = 0; !rc && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && !(!is_by && (c == '\t' || c == '\n'))) || c == 0x7f || (is_by && c == ';'))
			rc = -EINVAL;
	}
	if (rc && detail)
		*detail = what;
	return rc;
}

/* Parse a resolution's note; *why points into note. */
static int note_parse(const char *note, uint64_t *seq, char by[SG_REVIEW_BY_MAX + 1], const char **why)
{
	if (!note || strncmp(note, "review=", 7))
		return SG_ECORRUPT;
	const char *p = note + 7;
	uint64_t v = 0;
	if (*p < '1' || *p > '9')
		return SG_ECORRUPT;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return SG_ECORRUPT;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (strncmp(p, "; by=", 5))
		return SG_ECORRUPT;
	p += 5;
	const char *end = strstr(p, "; why=");
	if (!end || end == p || (size_t)(end - p) > SG_REVIEW_BY_MAX || memchr(p, ';', (size_t)(end - p)))
		return SG_ECORRUPT;
	memcpy(by, p, (size_t)(end - p));
	by[end - p] = '\0';
	*seq = v;
	*why = end + 6;
	return **why ? 0 : SG_ECORRUPT;
}

int sg_review_resolution_read(const sg_event *ev, sg_review_resolution *out)
{
	if (!ev || ev->action != SG_ACTION_REVIEW_RESOLVED)
		return SG_ENOTFOUND;
	sg_review_resolution r;
	int rc = sg__review_rule_decision(ev->rule, &r.decision);
	if (rc)
		return SG_ECORRUPT;
	if ((rc = note_parse(ev->note, &r.review_seq, r.by, &r.note)))
		return rc;
	*out = r;
	return 0;
}

/* ---- the index ---- */

static MDB_val index_key(uint8_t key[9], char kind, uint64_t seq)
{
	key[0] = (uint8_t)kind;
	sg__be64_put(key + 1, seq);
	return sg__val(key, 9);
}

/* Where review seq stands in txn: 0 pending (*res = 0), 0 resolved (*res =
 * its resolution), SG_ENOTFOUND when it is no review event. */
static int index_state(sg__store *st, MDB_txn *txn, uint64_t seq, uint64_t *res)
{
	uint8_t key[9];
	MDB_val k = index_key(key, 'd', seq), v;
	int rc = mdb_get(txn, st->reviews, &k, &v);
	if (rc == 0) {
		if (v.mv_size != 8)
			return SG_ECORRUPT;
		*res = sg__be64_get(v.mv_data);
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return sg__store_err(rc);
	k = index_key(key, 'p', seq);
	rc = mdb_get(txn, st->reviews, &k, &v);
	if (rc == 0)
		*res = 0;
	return sg__store_err(rc);
}

int sg__review_index_note(sg__store *st, MDB_txn *txn, sg_action action, uint64_t review_seq, uint64_t seq)
{
	uint8_t key[9], val[8];
	MDB_val k, v;
	if (action == SG_ACTION_REVIEW) {
		k = index_key(key, 'p', seq);
		v = sg__val("", 0);
		return sg__store_err(mdb_put(txn, st->reviews, &k, &v, 0));
	}
	if (action != SG_ACTION_REVIEW_RESOLVED)
		return 0;
	k = index_key(key, 'p', review_seq);
	int rc = mdb_del(txn, st->reviews, &k, NULL);
	if (rc)
		return rc == MDB_NOTFOUND ? SG_ECORRUPT : sg__store_err(rc); /* checked before: pending */
	k = index_key(key, 'd', review_seq);
	sg__be64_put(val, seq);
	v = sg__val(val, 8);
	return sg__store_err(mdb_put(txn, st->reviews, &k, &v, 0));
}

/* Read event seq of txn's log into ev (strings in scratch, body attached
 * when with_body and not redacted). */
static int read_event(sg__store *st, MDB_txn *txn, uint64_t seq, bool with_body, sg_event *ev, char *scratch)
{
	uint8_t key[8];
	sg__be64_put(key, seq);
	MDB_val k = sg__val(key, 8), v;
	int rc = mdb_get(txn, st->events, &k, &v);
	if (rc)
		return sg__store_err(rc);
	if ((rc = sg__event_value_load(txn, st->events, seq, v.mv_data, v.mv_size, NULL, ev, scratch, SCRATCH)))
		return rc;
	if (ev->seq != seq)
		return SG_ECORRUPT;
	if (!with_body) {
		ev->body = NULL; /* an inline body too */
		return 0;
	}
	rc = mdb_get(txn, st->bodies, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0; /* redacted, or there was none */
	if (rc)
		return sg__store_err(rc);
	ev->body = v.mv_data;
	ev->body_len = v.mv_size;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int sg__review_check(sg__store *st, MDB_txn *txn, const sg_event_in *ev, sg_scope_kind scope,
		     const char *scope_id, uint64_t *review_seq, int *status)
{
	sg_review_decision d;
	char by[SG_REVIEW_BY_MAX + 1];
	const char *why;
	uint64_t seq = 0, res = 0;
	*status = 0;
	if (sg__review_rule_decision(ev->rule, &d) || note_parse(ev->note, &seq, by, &why) ||
	    text_ok(by, SG_REVIEW_BY_MAX, true, NULL) || text_ok(why, SG_REVIEW_NOTE_MAX, false, NULL)) {
		*status = -EINVAL;
		return 0;
	}
	int rc = index_state(st, txn, seq, &res);
	if (rc == SG_ENOTFOUND || (!rc && res)) {
		*status = rc ? rc : SG_ERESOLVED;
		return 0;
	}
	if (rc)
		return rc;
	char *scratch = malloc(SCRATCH);
	if (!scratch)
		return -ENOMEM;
	sg_event r;
	rc = read_event(st, txn, seq, false, &r, scratch);
	if (!rc && r.action != SG_ACTION_REVIEW)
		rc = SG_ECORRUPT; /* the index names an event that is no review */
	if (!rc && (!same_str(r.recipient, ev->recipient) || !same_str(r.sender, ev->sender) || r.scope != scope ||
		    !same_str(r.scope_id, scope_id) || r.event_time_us != ev->event_time_us))
		*status = -EINVAL; /* not the review event's person, scope or time */
	free(scratch);
	*review_seq = seq;
	return rc == SG_ENOTFOUND ? SG_ECORRUPT : rc;
}

/* ---- building the index of a store made before it existed ---- */

static int build_txn(MDB_txn *txn, void *arg)
{
	sg__store *st = arg;
	uint8_t one = 1;
	MDB_val bk = sg__val(BUILT_KEY, sizeof(BUILT_KEY) - 1), bv;
	int rc = mdb_get(txn, st->reviews, &bk, &bv);
	if (rc != MDB_NOTFOUND)
		return sg__store_err(rc); /* built (0), or an error */
	if ((rc = sg__store_err(mdb_drop(txn, st->reviews, 0))))
		return rc; /* a build that ran out of map space left nothing behind, but be sure */
	char *scratch = malloc(SCRATCH);
	MDB_cursor *cur = NULL;
	if (!scratch)
		return -ENOMEM;
	MDB_val k, v;
	rc = mdb_cursor_open(txn, st->events, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!rc) {
		/* The action, read without decoding the rest (either form). */
		int64_t t;
		int action = -1;
		if (k.mv_size == 8 && !sg__event_value_head(v.mv_data, v.mv_size, &t, &action)) {
			if (action == SG_ACTION_REVIEW || action == SG_ACTION_REVIEW_RESOLVED) {
				sg_event ev;
				sg_review_resolution r = {0};
				if ((rc = sg__event_value_decode(sg__be64_get(k.mv_data), v.mv_data, v.mv_size, NULL, &ev,
								 scratch, SCRATCH)))
					break;
				if (ev.action == SG_ACTION_REVIEW_RESOLVED && (rc = sg_review_resolution_read(&ev, &r)))
					break;
				if ((rc = sg__review_index_note(st, txn, ev.action, r.review_seq, ev.seq)))
					break;
			}
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	free(scratch);
	if (rc != MDB_NOTFOUND)
		return sg__store_err(rc);
	bv = sg__val(&one, 1);
	return sg__store_err(mdb_put(txn, st->reviews, &bk, &bv, 0));
}

int sg__review_index_open(sg__store *st)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, st->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return sg__store_err(rc);
	rc = mdb_dbi_open(txn, "reviews", st->rdonly ? 0 : MDB_CREATE, &st->reviews);
	if (rc == MDB_NOTFOUND && st->rdonly) {
		st->reviews_absent = true;
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc) {
		mdb_txn_abort(txn);
		return sg__store_err(rc);
	}
	/* Commit even a read-only txn: aborting would close the new handle. */
	if ((rc = sg__store_err(mdb_txn_commit(txn))) || st->rdonly)
		return rc;
	return sg__store_write(st, build_txn, st);
}

/* ---- the public calls ---- */

int sg_review_state(sg_engine *e, uint64_t review_seq, uint64_t *resolution_seq)
{
	if (!e)
		return -EINVAL;
	if (e->store.reviews_absent)
		return -EAGAIN;
	MDB_txn *txn;
	uint64_t res = 0;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	rc = index_state(&e->store, txn, review_seq, &res);
	sg__rd_end(&e->store, txn);
	if (!rc && resolution_seq)
		*resolution_seq = res;
	return rc;
}

int sg_reviews_pending(sg_engine *e, uint64_t after_seq, size_t max, sg_event_cb cb, void *ctx,
		       uint64_t *next_seq)
{
	if (!e || !cb || !max || after_seq == UINT64_MAX)
		return -EINVAL;
	if (e->store.reviews_absent)
		return -EAGAIN; /* open the store read-write once to build the index */
	char *scratch = malloc(SCRATCH);
	if (!scratch)
		return -ENOMEM;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	int rc = sg__rd_begin(&e->store, &txn), cbrc = 0;
	if (rc) {
		free(scratch);
		return rc;
	}
	uint8_t key[9];
	MDB_val k = index_key(key, 'p', after_seq + 1), v;
	uint64_t last = 0, next = 0;
	size_t given = 0;
	rc = mdb_cursor_open(txn, e->store.reviews, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (!rc && k.mv_size == 9 && ((const uint8_t *)k.mv_data)[0] == 'p') {
		uint64_t seq = sg__be64_get((const uint8_t *)k.mv_data + 1);
		if (given == max) {
			next = last; /* more are pending after the last one given */
			break;
		}
		sg_event ev;
		if ((rc = read_event(&e->store, txn, seq, true, &ev, scratch)))
			break;
		if (ev.action != SG_ACTION_REVIEW) {
			rc = SG_ECORRUPT;
			break;
		}
		given++;
		last = seq;
		if ((cbrc = cb(&ev, ctx)))
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	rc = rc == MDB_NOTFOUND ? 0 : sg__store_err(rc);
	mdb_cursor_close(cur);
	sg__rd_end(&e->store, txn);
	free(scratch);
	if (cbrc)
		return cbrc;
	if (!rc && next_seq)
		*next_seq = next;
	return rc;
}

int sg_reviews_pending_count(sg_engine *e, uint64_t *count, int64_t *oldest_us)
{
	if (!e || !count)
		return -EINVAL;
	*count = 0;
	if (oldest_us)
		*oldest_us = 0;
	if (e->store.reviews_absent)
		return -EAGAIN;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	uint8_t key[9];
	MDB_val k = index_key(key, 'p', 0), v;
	uint64_t n = 0, first = 0;
	rc = mdb_cursor_open(txn, e->store.reviews, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (!rc && k.mv_size == 9 && ((const uint8_t *)k.mv_data)[0] == 'p') {
		if (!n++)
			first = sg__be64_get((const uint8_t *)k.mv_data + 1);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	rc = rc == MDB_NOTFOUND ? 0 : sg__store_err(rc);
	mdb_cursor_close(cur);
	if (!rc && first && oldest_us) {
		char *scratch = malloc(SCRATCH);
		sg_event ev;
		rc = !scratch ? -ENOMEM : read_event(&e->store, txn, first, false, &ev, scratch);
		if (!rc)
			*oldest_us = ev.time_us;
		free(scratch);
	}
	sg__rd_end(&e->store, txn);
	if (!rc)
		*count = n;
	return rc;
}

struct sg_review_request {
	sg_event_in ev;
	char sender[SG_KEY_MAX], recipient[SG_KEY_MAX], scope_id[SG_KEY_MAX];
	char note[64 + SG_REVIEW_BY_MAX + SG_REVIEW_NOTE_MAX];
};

static void copy_key(char *dst, const char *src, const char **field)
{
	if (!src) {
		*field = NULL;
		return;
	}
	sg__strlcpy(dst, src, SG_KEY_MAX);
	*field = dst;
}

int sg_review_prepare(sg_engine *e, uint64_t review_seq, sg_review_decision decision, const char *by,
		      const char *note, sg_review_request **ret, const char **err_detail)
{
	if (!e || !ret)
		return -EINVAL;
	if (decision != SG_REVIEW_NONE && decision != SG_REVIEW_OPT_OUT && decision != SG_REVIEW_OPT_IN) {
		if (err_detail)
			*err_detail = "decision: \"opt_out\" (a revocation: record the opt-out), \"opt_in\" (a "
				      "request to be texted: record the opt-in) or \"none\"";
		return -EINVAL;
	}
	int rc = text_ok(by, SG_REVIEW_BY_MAX, true, err_detail);
	if (rc || (rc = text_ok(note, SG_REVIEW_NOTE_MAX, false, err_detail)))
		return rc;
	if (e->store.reviews_absent)
		return -EAGAIN;
	sg_review_request *r = calloc(1, sizeof(*r));
	char *scratch = malloc(SCRATCH);
	if (!r || !scratch) {
		free(r);
		free(scratch);
		return -ENOMEM;
	}
	MDB_txn *txn;
	uint64_t res = 0;
	sg_event ev;
	if ((rc = sg__rd_begin(&e->store, &txn)))
		goto out;
	rc = index_state(&e->store, txn, review_seq, &res);
	if (!rc && res)
		rc = SG_ERESOLVED;
	if (!rc && (rc = read_event(&e->store, txn, review_seq, false, &ev, scratch)) == 0) {
		if (ev.action != SG_ACTION_REVIEW || (ev.scope_id && strlen(ev.scope_id) >= SG_KEY_MAX) ||
		    (ev.sender && strlen(ev.sender) >= SG_KEY_MAX) || !ev.recipient ||
		    strlen(ev.recipient) >= SG_KEY_MAX) {
			rc = SG_ECORRUPT;
		} else {
			r->ev = (sg_event_in){
				.size = sizeof(sg_event_in),
				.action = SG_ACTION_REVIEW_RESOLVED,
				.source = SG_SOURCE_OPERATOR,
				.scope = ev.scope,
				.rule = decision == SG_REVIEW_OPT_OUT ? RULE_OPT_OUT
					: decision == SG_REVIEW_OPT_IN ? RULE_OPT_IN : RULE_NONE,
				.note = r->note,
				.event_time_us = ev.event_time_us,
			};
			copy_key(r->sender, ev.sender, &r->ev.sender);
			copy_key(r->recipient, ev.recipient, &r->ev.recipient);
			copy_key(r->scope_id, ev.scope_id ? ev.scope_id : "", &r->ev.scope_id);
			snprintf(r->note, sizeof(r->note), "review=%" PRIu64 "; by=%s; why=%s", review_seq, by, note);
		}
	}
	sg__rd_end(&e->store, txn);
out:
	free(scratch);
	if (rc) {
		free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

const sg_event_in *sg_review_request_event(const sg_review_request *req)
{
	return &req->ev;
}

void sg_review_request_free(sg_review_request *req)
{
	free(req);
}

int sg_review_resolve(sg_engine *e, uint64_t review_seq, sg_review_decision decision, const char *by,
		      const char *note, uint64_t *ret_seq, const char **err_detail)
{
	if (e && e->rdonly)
		return SG_ERDONLY;
	sg_review_request *r;
	int rc = sg_review_prepare(e, review_seq, decision, by, note, &r, err_detail);
	if (rc)
		return rc;
	sg_event_out out;
	rc = sg_record(e, &r->ev, 1, &out);
	sg_review_request_free(r);
	if (!rc)
		rc = out.status;
	if (!rc && ret_seq)
		*ret_seq = out.seq;
	return rc;
}
