/* SPDX-License-Identifier: Apache-2.0 */
/* The consent store: every event kind, durability across reopen, map
 * growth, dedup, event-time ordering and the hash chain. Real LMDB, temp
 * dirs. Tests with several processes are in test_processes.c. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <lmdb.h>

#define TU_CHECK_ONLY /* only events_and_messages_need_their_size classifies (testutil.h) */
#include "testutil.h"
#include "internal.h"
#include "store/store.h"

#ifndef SG_OPEN_CREATE
#define SG_OPEN_CREATE 0 /* (a tree from before the flag: writers always create) */
#endif

typedef struct collected {
	int count;
	sg_event last;
	char scope_id[96], sender[96], recipient[96], provider[32], msg_id[64], rule[64], note[64];
	char body[256];
	uint64_t seqs[64];
} collected;

static int collect(const sg_event *ev, void *ctx)
{
	collected *c = ctx;
	if (c->count < 64)
		c->seqs[c->count] = ev->seq;
	c->count++;
	c->last = *ev;
#define KEEP(f, src) snprintf(c->f, sizeof(c->f), "%s", (src) ? (src) : "")
	KEEP(scope_id, ev->scope_id);
	KEEP(sender, ev->sender);
	KEEP(recipient, ev->recipient);
	KEEP(provider, ev->provider);
	KEEP(msg_id, ev->provider_msg_id);
	KEEP(rule, ev->rule);
	KEEP(note, ev->note);
#undef KEEP
	snprintf(c->body, sizeof(c->body), "%.*s", ev->body ? (int)ev->body_len : 0, ev->body ? ev->body : "");
	return 0;
}

static void every_event_kind_round_trips(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	static const char body[] = "STOP";
	sg_event_in ev = {.size = sizeof(sg_event_in), 
		.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		.recipient = "+14155552671", .provider = "twilio", .provider_msg_id = "SM123",
		.dedup_key = "inbound:twilio:SM123", .rule = "en.stop", .body = body, .body_len = 4,
		.reply = "Acme: you're unsubscribed.", .note = "n1", .event_time_us = 1700000000000000,
	};
	sg_event_out out;
	assert_int_equal(sg_record(e, &ev, 1, &out), 0);
	assert_int_equal(out.status, 0);
	assert_int_equal(out.seq, 1);
	assert_true(out.applied);

	const sg_action kinds[] = {SG_ACTION_OPT_IN, SG_ACTION_HELP, SG_ACTION_FLAG_NOT_SMS_CAPABLE,
				   SG_ACTION_CLEAR_NOT_SMS_CAPABLE, SG_ACTION_REVIEW};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		/* the person's own START: an API opt-in over their STOP would need the override */
		sg_source src = kinds[i] == SG_ACTION_OPT_IN ? SG_SOURCE_KEYWORD : SG_SOURCE_API;
		sg_event_out o = tu_record(e, kinds[i], src, "+14155550100", "+14155552671", 0, NULL);
		assert_int_equal(o.status, 0);
		assert_int_equal(o.seq, i + 2);
	}
	collected c = {0};
	uint64_t next;
	assert_int_equal(sg_events_read(e, 1, 1, collect, &c, &next), 0);
	assert_int_equal(c.count, 1);
	assert_int_equal(next, 2);
	assert_int_equal(c.last.action, SG_ACTION_OPT_OUT);
	assert_int_equal(c.last.source, SG_SOURCE_KEYWORD);
	assert_int_equal(c.last.scope, SG_SCOPE_SENDER); /* unregistered sender: the sender itself */
	assert_string_equal(c.scope_id, "+14155550100");
	assert_string_equal(c.sender, "+14155550100");
	assert_string_equal(c.recipient, "+14155552671");
	assert_string_equal(c.provider, "twilio");
	assert_string_equal(c.msg_id, "SM123");
	assert_string_equal(c.rule, "en.stop");
	assert_string_equal(c.note, "n1");
	assert_string_equal(c.body, "STOP");
	assert_int_equal(c.last.event_time_us, 1700000000000000);
	assert_true(c.last.time_us > 1700000000000000);

	memset(&c, 0, sizeof(c));
	assert_int_equal(sg_events_read(e, 0, 100, collect, &c, &next), 0);
	assert_int_equal(c.count, 6);
	assert_int_equal(c.last.action, SG_ACTION_REVIEW);
	for (int i = 0; i < 6; i++)
		assert_int_equal(c.seqs[i], i + 1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(sg_events_for_recipient(e, "+14155552671", collect, &c), 0);
	assert_int_equal(c.count, 6);
	memset(&c, 0, sizeof(c));
	assert_int_equal(sg_events_for_recipient(e, "+19999999999", collect, &c), 0);
	assert_int_equal(c.count, 0);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void durable_across_reopen_and_verified(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	for (int i = 0; i < 50; i++) {
		char to[32];
		snprintf(to, sizeof(to), "+1415555%04d", i);
		tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", to, 0, NULL);
	}
	uint64_t seq1;
	uint8_t head1[32];
	assert_int_equal(sg_head(e, &seq1, head1), 0);
	assert_int_equal(seq1, 50);
	sg_engine_close(e);

	e = tu_open(dir, 0, NULL);
	uint64_t seq2;
	uint8_t head2[32];
	assert_int_equal(sg_head(e, &seq2, head2), 0);
	assert_int_equal(seq2, 50);
	assert_memory_equal(head1, head2, 32);
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.events, 50);
	assert_int_equal(st.opted_out, 50);
	assert_int_equal(st.recipients, 50);
	sg_verify_result vr;
	assert_int_equal(sg_verify(e, &vr), 0);
	assert_true(vr.ok);
	assert_int_equal(vr.count, 50);
	assert_memory_equal(vr.head_hash, head1, 32);
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+14155550007", 0, &v), 0);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* sg_options and sg_policy carry their size (issue 12): options filled by
 * hand without sg_options_default() are refused, not read at a guess. */
static void options_need_their_size(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_options o;
	memset(&o, 0, sizeof(o));
	o.data_dir = dir;
	o.keywords_dir = tu_keywords();
	o.flags = SG_OPEN_CREATE;
	sg_engine *e = NULL;
	assert_int_equal(sg_engine_open(&o, &e), -EINVAL);
	sg_policy p;
	memset(&p, 0, sizeof(p));
	p.require_registered = true;
	o.size = sizeof(o);
	o.policy = &p;
	assert_int_equal(sg_engine_open(&o, &e), -EINVAL);
	sg_policy_default(&p);
	p.require_registered = true;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	assert_true(sg_engine_policy(e)->require_registered);
	assert_int_equal(sg_engine_policy(e)->size, sizeof(sg_policy));
	sg_engine_close(e);

	/* The defaults are written at the caller's size: a newer caller's
	 * larger struct gets zeros past what this library knows (and opens),
	 * an older caller's smaller one is never written past its end. */
	struct {
		sg_policy p;
		uint64_t newer_field;
	} wide;
	memset(&wide, 0xab, sizeof(wide));
	sg_policy_init(&wide.p, sizeof(wide));
	assert_int_equal(wide.p.size, sizeof(wide));
	assert_int_equal(wide.newer_field, 0);
	assert_int_equal(wide.p.dedup_ttl_us, 48 * 3600 * (int64_t)1000000);
	o.policy = &wide.p;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	sg_engine_close(e);
	unsigned char narrow[sizeof(sg_policy)];
	memset(narrow, 0xab, sizeof(narrow));
	sg_policy_init((sg_policy *)narrow, sizeof(size_t) + 4);
	for (size_t i = sizeof(size_t) + 4; i < sizeof(narrow); i++)
		assert_int_equal(narrow[i], 0xab);
	struct {
		sg_options o;
		uint64_t newer_field;
	} wopts;
	memset(&wopts, 0xab, sizeof(wopts));
	sg_options_init(&wopts.o, sizeof(wopts));
	assert_int_equal(wopts.o.size, sizeof(wopts));
	assert_null(wopts.o.data_dir);
	assert_int_equal(wopts.newer_field, 0);
	tu_rmdir(dir);
}

/* Events, inbound messages and signals carry their size too: a struct
 * filled without it is refused, a newer caller's larger struct is read
 * with its own stride as long as the fields this library lacks are zero. */
typedef struct newer_event_in {
	sg_event_in ev;
	uint64_t field_from_the_future;
} newer_event_in;

static void events_and_messages_need_their_size(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open_full(dir); /* it decides an inbound message */
	sg_event_in ev = {.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_API, .sender = "+14155550100",
			  .recipient = "+14155552671"}; /* no .size */
	sg_event_out out = {0};
	assert_int_equal(sg_record(e, &ev, 1, &out), -EINVAL);
	assert_int_equal(out.status, -EINVAL);
	uint64_t seq = 9;
	uint8_t head[32];
	assert_int_equal(sg_head(e, &seq, head), 0);
	assert_int_equal(seq, 0); /* nothing recorded */

	newer_event_in two[2];
	memset(two, 0, sizeof(two));
	for (int i = 0; i < 2; i++) {
		two[i].ev = ev;
		two[i].ev.size = sizeof(newer_event_in);
		two[i].ev.recipient = i ? "+14155552672" : "+14155552671";
	}
	sg_event_out o2[2];
	assert_int_equal(sg_record(e, &two[0].ev, 2, o2), 0);
	assert_int_equal(o2[0].status, 0);
	assert_int_equal(o2[1].status, 0);
	assert_int_equal(o2[1].seq, 2); /* the second one read at the caller's stride */
	two[1].field_from_the_future = 1;
	assert_int_equal(sg_record(e, &two[0].ev, 2, o2), -EINVAL);
	two[1].field_from_the_future = 0;
	two[1].ev.size = sizeof(sg_event_in); /* not the stride the first one set */
	assert_int_equal(sg_record(e, &two[0].ev, 2, o2), -EINVAL);
	assert_int_equal(sg_head(e, &seq, head), 0);
	assert_int_equal(seq, 2);

	sg_decision *d = NULL;
	sg_inbound_msg m = {.provider = "gw", .id = "x1", .from = "+14155552673", .to = "+14155550100",
			    .body = "STOP", .body_len = 4};
	assert_int_equal(sg_decide_inbound(e, &m, &d), -EINVAL);
	m.size = sizeof(m);
	assert_int_equal(sg_decide_inbound(e, &m, &d), 0);
	size_t n;
	const sg_event_in *evs = sg_decision_events(d, &n);
	assert_int_equal(n, 1);
	assert_int_equal(evs[0].size, sizeof(sg_event_in)); /* ready for sg_record */
	sg_decision_free(d);
	sg_signal_msg sig = {.provider = "gw", .handset = "+14155552673", .kind = SG_SIGNAL_OPT_OUT};
	assert_int_equal(sg_decide_signal(e, &sig, &d), -EINVAL);
	sig.size = sizeof(sig);
	assert_int_equal(sg_decide_signal(e, &sig, &d), 0);
	sg_decision_free(d);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void map_grows_past_initial_size(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.keywords_dir = tu_keywords();
	o.initial_map_size = 256 * 1024; /* tiny: forces several growths */
	o.flags = SG_OPEN_CREATE;
	sg_engine *e;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	static char body[4000];
	memset(body, 'x', sizeof(body));
	sg_event_in evs[100];
	sg_event_out outs[100];
	char tos[100][32];
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 100; i++) {
			snprintf(tos[i], sizeof(tos[i]), "+1212555%04d", round * 100 + i);
			evs[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD,
					       .sender = "+14155550100", .recipient = tos[i],
					       .body = body, .body_len = sizeof(body)};
		}
		assert_int_equal(sg_record(e, evs, 100, outs), 0);
		for (int i = 0; i < 100; i++)
			assert_int_equal(outs[i].status, 0);
	}
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.events, 1000);
	assert_true(st.map_size > 4 * 1024 * 1024); /* 4 MB of bodies did not fit in 256 KiB */
	assert_true(st.map_used > 4 * 1024 * 1024);
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+12125550999", 0, &v), 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void dedup_and_batch_semantics(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_in evs[4] = {
		{.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		 .recipient = "+14155552671", .dedup_key = "inbound:telnyx:abc"},
		/* same key again in the same batch: a duplicate */
		{.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		 .recipient = "+14155552671", .dedup_key = "inbound:telnyx:abc"},
		/* invalid: bad recipient key; only this one fails */
		{.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		 .recipient = "4155552671"},
		/* a dedup marker only */
		{.size = sizeof(sg_event_in), .action = SG_ACTION_NONE, .dedup_key = "inbound:telnyx:def"},
	};
	sg_event_out out[4];
	assert_int_equal(sg_record(e, evs, 4, out), 0);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[0].seq, 1);
	assert_false(out[0].duplicate);
	assert_int_equal(out[1].status, 0);
	assert_true(out[1].duplicate);
	assert_int_equal(out[1].seq, 1);
	assert_int_equal(out[2].status, SG_ENUMBER);
	assert_int_equal(out[3].status, 0);
	assert_int_equal(out[3].seq, 0);
	/* a later batch sees both keys */
	assert_int_equal(sg_record(e, &evs[3], 1, out), 0);
	assert_true(out[0].duplicate);
	assert_int_equal(sg_record(e, &evs[0], 1, out), 0);
	assert_true(out[0].duplicate);
	uint64_t seq;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &seq, h), 0);
	assert_int_equal(seq, 1); /* nothing but the first event was logged */
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.dedup_keys, 2);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void older_event_does_not_override_newer(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	/* STOP at t=2000 arrives first, then a START stamped t=1000 (out of order). */
	sg_event_in stop = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
			    .recipient = "+14155552671", .event_time_us = 2000000000000000};
	sg_event_in start = stop;
	start.action = SG_ACTION_OPT_IN;
	start.event_time_us = 1000000000000000;
	sg_event_out o;
	assert_int_equal(sg_record(e, &stop, 1, &o), 0);
	assert_true(o.applied);
	assert_int_equal(sg_record(e, &start, 1, &o), 0);
	assert_int_equal(o.status, 0);
	assert_false(o.applied); /* logged, but the newer STOP stands */
	assert_int_equal(o.seq, 2);
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+14155552671", 0, &v), 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	start.event_time_us = 3000000000000000;
	assert_int_equal(sg_record(e, &start, 1, &o), 0);
	assert_true(o.applied);
	assert_int_equal(sg_check(e, "+14155550100", "+14155552671", 0, &v), 0);
	assert_true(v.allow);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void import_is_idempotent(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_in ev = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_IMPORT, .sender = NULL,
			  .recipient = "+14155552671", .scope = SG_SCOPE_GLOBAL, .scope_id = "",
			  .note = "list.csv"};
	sg_event_out o;
	assert_int_equal(sg_record(e, &ev, 1, &o), 0);
	assert_false(o.duplicate);
	assert_int_equal(o.seq, 1);
	assert_int_equal(sg_record(e, &ev, 1, &o), 0);
	assert_true(o.duplicate);
	assert_int_equal(o.seq, 1);
	uint64_t seq;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &seq, h), 0);
	assert_int_equal(seq, 1);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* SG_OPEN_DEFER_SYNC: writes behave the same, sg_sync() makes them durable,
 * and they are there after a reopen (in the plain mode too). */
static void deferred_sync_mode(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.keywords_dir = tu_keywords();
	o.flags = SG_OPEN_DEFER_SYNC | SG_OPEN_CREATE;
	sg_engine *e;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	for (int i = 0; i < 20; i++) {
		char to[32];
		snprintf(to, sizeof(to), "+1415555%04d", i);
		sg_event_out out = tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, "+14155550100", to, 0, NULL);
		assert_int_equal(out.seq, (uint64_t)i + 1);
	}
	assert_int_equal(sg_sync(e), 0);
	sg_engine_close(e);
	o.flags = 0;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	assert_int_equal(sg_sync(e), 0); /* harmless in the plain mode */
	sg_verify_result vr;
	assert_int_equal(sg_verify(e, &vr), 0);
	assert_true(vr.ok);
	assert_int_equal(vr.count, 20);
	sg_engine_close(e);
	tu_rmdir(dir);
}


/* ---- opening: no store unless asked, never over the remains of one ---- */

static bool path_exists(const char *dir, const char *name)
{
	char p[8192];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &sb) == 0;
}

static void open_without_create_finds_no_store(void **state)
{
	(void)state;
	char *base = tu_mkdtemp();
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/typo", base);
	sg_engine *e;
	assert_int_equal(tu_open_flags(dir, 0, &e), SG_ENOSTORE);
	assert_int_equal(tu_open_flags(dir, SG_OPEN_RDONLY, &e), SG_ENOSTORE);
	assert_int_equal(tu_open_flags(dir, SG_OPEN_RDONLY | SG_OPEN_CREATE, &e), SG_ENOSTORE);
	assert_false(path_exists(dir, "")); /* nothing created */
	/* an empty directory: still no store, and nothing is put in it */
	assert_int_equal(tu_open_flags(base, 0, &e), SG_ENOSTORE);
	assert_int_equal(tu_open_flags(base, SG_OPEN_RDONLY, &e), SG_ENOSTORE);
	assert_false(path_exists(base, "writer.lock"));
	assert_false(path_exists(base, "lock.mdb"));
	assert_string_not_equal(sg_strerror(SG_ENOSTORE), "unknown error");
	assert_non_null(strstr(sg_strerror(SG_ENOSTORE), "stopgate init"));
	/* with the flag, a store is made and later opens need none */
	assert_int_equal(tu_open_flags(dir, SG_OPEN_CREATE, &e), 0);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", "+14155552671", 0, NULL);
	sg_engine_close(e);
	assert_int_equal(tu_open_flags(dir, 0, &e), 0); /* (read-only opens: test_processes.c) */
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+14155552671", 0, &v), 0);
	assert_false(v.allow);
	sg_engine_close(e);
	tu_rmdir(base);
}

static void cut(const char *dir, off_t len)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	assert_int_equal(truncate(p, len), 0);
}

static off_t data_size(const char *dir)
{
	char p[4096];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	return stat(p, &sb) == 0 ? sb.st_size : -1;
}

/* A store with n opt-outs, closed; returns the size of data.mdb. */
static off_t store_with(const char *dir, int n)
{
	tu_store_with(dir, n);
	return data_size(dir);
}

static void damaged_data_file_is_refused(void **state)
{
	(void)state;
	static const unsigned modes[] = {SG_OPEN_RDONLY, 0, SG_OPEN_CREATE};
	off_t cuts[] = {0, 100, 4096 + 50, -1 /* half */, -2 /* one page short */};
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		char *dir = tu_mkdtemp();
		off_t size = store_with(dir, 400);
		assert_true(size > 5 * 4096);
		off_t len = cuts[c] == -1 ? size / 2 : cuts[c] == -2 ? size - 4096 : cuts[c];
		cut(dir, len);
		for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			sg_engine *e;
			int rc = tu_open_flags(dir, modes[m], &e);
			if (rc != SG_ETRUNCATED)
				fprintf(stderr, "cut to %lld, flags %u: %d %s\n", (long long)len, modes[m], rc,
					sg_strerror(rc));
			assert_int_equal(rc, SG_ETRUNCATED);
			assert_int_equal(data_size(dir), len); /* left as found */
		}
		tu_rmdir(dir);
	}
	assert_non_null(strstr(sg_strerror(SG_ETRUNCATED), "backup"));
}

static void no_new_store_over_remains(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	store_with(dir, 3);
	char p[4096];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	assert_int_equal(unlink(p), 0); /* deleted, or moved away: lock.mdb, filter.bits, writer.lock stay */
	sg_engine *e;
	assert_int_equal(tu_open_flags(dir, SG_OPEN_CREATE, &e), SG_ETRUNCATED);
	assert_int_equal(tu_open_flags(dir, 0, &e), SG_ETRUNCATED);
	assert_int_equal(tu_open_flags(dir, SG_OPEN_RDONLY, &e), SG_ETRUNCATED);
	assert_false(path_exists(dir, "data.mdb"));
	/* filter.bits alone is enough to tell */
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/writer.lock", dir);
	unlink(p);
	assert_int_equal(tu_open_flags(dir, SG_OPEN_CREATE, &e), SG_ETRUNCATED);
	assert_false(path_exists(dir, "data.mdb"));
	tu_rmdir(dir);
}

/* An LMDB file that is not a stopgate store is not turned into one. */
static void foreign_lmdb_file_is_not_adopted(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	MDB_val k = {.mv_size = 3, .mv_data = "abc"}, v = {.mv_size = 3, .mv_data = "def"};
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	sg_engine *e;
	assert_int_equal(tu_open_flags(dir, SG_OPEN_CREATE, &e), SG_ECORRUPT);
	assert_int_equal(tu_open_flags(dir, 0, &e), SG_ECORRUPT);
	tu_rmdir(dir);
}

/* ---- LMDB errors come out of the store translated ---- */

static void every_lmdb_code_is_translated(void **state)
{
	(void)state;
	for (int rc = MDB_KEYEXIST; rc <= MDB_LAST_ERRCODE; rc++) {
		int t = sg__store_err(rc);
		assert_true(t < 0);
		assert_false(t >= MDB_KEYEXIST && t <= MDB_LAST_ERRCODE);
		assert_string_not_equal(sg_strerror(t), "unknown error");
	}
	assert_int_equal(sg__store_err(MDB_CORRUPTED), SG_ECORRUPT);
	assert_int_equal(sg__store_err(MDB_PAGE_NOTFOUND), SG_ECORRUPT);
	assert_int_equal(sg__store_err(MDB_NOTFOUND), SG_ENOTFOUND);
	assert_int_equal(sg__store_err(EIO), -EIO);
	/* translating twice changes nothing */
	for (int rc = SG_ERROR_MIN; rc < SG__ERROR_END; rc++)
		assert_int_equal(sg__store_err(rc), rc);
	assert_int_equal(sg__store_err(-ENOSPC), -ENOSPC);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_event_kind_round_trips),
		cmocka_unit_test(durable_across_reopen_and_verified),
		cmocka_unit_test(map_grows_past_initial_size),
		cmocka_unit_test(dedup_and_batch_semantics),
		cmocka_unit_test(older_event_does_not_override_newer),
		cmocka_unit_test(import_is_idempotent),
		cmocka_unit_test(deferred_sync_mode),
		cmocka_unit_test(open_without_create_finds_no_store),
		cmocka_unit_test(damaged_data_file_is_refused),
		cmocka_unit_test(no_new_store_over_remains),
		cmocka_unit_test(foreign_lmdb_file_is_not_adopted),
		cmocka_unit_test(every_lmdb_code_is_translated),
		cmocka_unit_test(options_need_their_size),
		cmocka_unit_test(events_and_messages_need_their_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
