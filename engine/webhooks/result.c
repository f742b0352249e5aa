/* SPDX-License-Identifier: Apache-2.0 */
/* Parse results: owned strings, messages, dedup keys, code classes, hints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wh_internal.h"

/* Strings live in a chain of blocks freed together. */
struct sg__wh_block {
	struct sg__wh_block *next;
	size_t used, cap;
	char data[];
};

#define BLOCK_MIN 2048

const char *sg__wh_dup(sg__wh_parsed *p, const char *s, size_t len)
{
	struct sg__wh_block *b = p->mem_;
	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > BLOCK_MIN ? len + 1 : BLOCK_MIN;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = p->mem_;
		p->mem_ = b;
	}
	char *d = b->data + b->used;
	if (len)
		memcpy(d, s, len);
	d[len] = '\0';
	b->used += len + 1;
	return d;
}

sg__wh_message *sg__wh_add(sg__wh_parsed *p)
{
	if (p->n == p->cap_) {
		size_t cap = p->cap_ ? 2 * p->cap_ : 2;
		sg__wh_message *m = realloc(p->msgs, cap * sizeof(*m));
		if (!m)
			return NULL;
		p->msgs = m;
		p->cap_ = cap;
	}
	sg__wh_message *m = &p->msgs[p->n++];
	memset(m, 0, sizeof(*m));
	m->kind = SG__WH_IGNORED;
	m->event_type = m->from = m->to = m->handset = m->our_number = "";
	m->from_country = m->to_country = m->account = m->group = m->msg_id = "";
	m->dedup_key = m->text = m->hint = m->status = m->status_code = m->concat_ref = "";
	m->confirm_url = m->invalid = "";
	m->index = (unsigned)(p->n - 1);
	return m;
}

void sg__wh_parsed_free(sg__wh_parsed *p)
{
	if (!p)
		return;
	for (struct sg__wh_block *b = p->mem_, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(p->msgs);
	memset(p, 0, sizeof(*p));
}

bool sg__wh_clean(const char *s, size_t len)
{
	return memchr(s, '\0', len) == NULL;
}

int64_t sg__wh_time(const char *text)
{
	int64_t us;
	if (!text || !*text || sg_time_parse(text, &us))
		return 0;
	return us;
}

/* ---- byte strings ------------------------------------------------------ */

/* ---- dedup keys -------------------------------------------------------- */

/* Append one key component, %-escaping the separator and control bytes. */
static void add_component(sg__buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	sg__buf_add(b, ":", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == ':' || *c == '%' || *c < 0x20 || *c == 0x7f) {
			char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
			sg__buf_add(b, e, 3);
		} else {
			sg__buf_add(b, c, 1);
		}
	}
}

static int dedup_key(sg__wh_parsed *p, sg__wh_message *m)
{
	const char *prov = sg__wh_provider_name(p->provider);
	sg__buf b = {0};

	sg__buf_adds(&b, prov);
	add_component(&b, m->account);
	add_component(&b, m->kind == SG__WH_INBOUND ? "in" : "status");
	add_component(&b, m->msg_id);
	if (m->kind == SG__WH_STATUS) {
		add_component(&b, m->status);
		add_component(&b, m->status_code);
	}
	if (!sg__buf_err(&b) && b.len >= SG__WH_DEDUP_MAX) {
		unsigned char md[SG__WH_MD_MAX];
		char hex[2 * 32 + 1];
		size_t n;
		int rc = sg__wh_digest("SHA256", b.p, b.len, md, &n);
		if (rc) {
			sg__buf_free(&b);
			return rc;
		}
		sg__wh_hex(md, n, hex);
		b.len = 0;
		sg__buf_adds(&b, prov);
		sg__buf_adds(&b, ":sha256:");
		sg__buf_adds(&b, hex);
	}
	int rc = sg__buf_err(&b);
	if (!rc) {
		m->dedup_key = sg__wh_dup(p, b.p, b.len);
		rc = m->dedup_key ? 0 : -ENOMEM;
	}
	sg__buf_free(&b);
	return rc;
}

int sg__wh_finish(sg__wh_parsed *p, sg__wh_message *m)
{
	if (m->kind == SG__WH_STATUS) {
		m->handset = m->to;
		m->our_number = m->from;
		m->code_class = sg__wh_code_classify(p->provider, m->status_code);
	} else {
		m->handset = m->from;
		m->our_number = m->to;
	}
	m->provider_intent = sg__wh_intent_from_hint(m->hint);
	if (m->kind == SG__WH_IGNORED)
		return 0;
	return dedup_key(p, m);
}

/* ---- status codes (compliance.md §8) and hints ------------------------- */

static bool in_list(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

sg__wh_code_class sg__wh_code_classify(sg__wh_provider p, const char *code)
{
	static const char *const twilio_out[] = {"21610", "63014", "80901", NULL};
	static const char *const twilio_nc[] = {"30006", "21614", "21635", "21612",
						"30003", "30005", "60205", NULL};
	static const char *const telnyx_out[] = {"40300", NULL};
	static const char *const telnyx_nc[] = {"40001", NULL};
	static const char *const bw_out[] = {"4775", "4482", NULL};
	static const char *const bw_nc[] = {"4720", "4700", "4701", "4721", NULL};
	static const char *const bw_camp[] = {"4773", NULL};
	static const char *const plivo_out[] = {"200", NULL};
	static const char *const vonage_out[] = {"9", NULL};
	static const char *const sinch_out[] = {"257", NULL};
	static const char *const sinch_camp[] = {"60", NULL};
	static const char *const none[] = {NULL};
	const char *const *out = none, *const *nc = none, *const *camp = none;

	if (!code || !*code || strcmp(code, "0") == 0)
		return SG__WH_CODE_NONE;
	switch (p) {
	case SG__WH_TWILIO: out = twilio_out; nc = twilio_nc; break;
	case SG__WH_TELNYX: out = telnyx_out; nc = telnyx_nc; break;
	case SG__WH_BANDWIDTH: out = bw_out; nc = bw_nc; camp = bw_camp; break;
	case SG__WH_PLIVO: out = plivo_out; break;
	case SG__WH_VONAGE: out = vonage_out; break;
	case SG__WH_SINCH: out = sinch_out; camp = sinch_camp; break;
	default: break;
	}
	if (in_list(code, out))
		return SG__WH_CODE_OPT_OUT;
	if (in_list(code, nc))
		return SG__WH_CODE_NOT_SMS_CAPABLE;
	if (in_list(code, camp))
		return SG__WH_CODE_CAMPAIGN_BLOCK;
	return SG__WH_CODE_OTHER;
}

sg_intent sg__wh_intent_from_hint(const char *hint)
{
	static const struct {
		const char *word;
		sg_intent intent;
	} map[] = {
		{"stop", SG_INTENT_OPT_OUT},  {"optout", SG_INTENT_OPT_OUT},
		{"opt_out", SG_INTENT_OPT_OUT}, {"opt-out", SG_INTENT_OPT_OUT},
		{"start", SG_INTENT_OPT_IN},  {"unstop", SG_INTENT_OPT_IN},
		{"optin", SG_INTENT_OPT_IN},  {"opt_in", SG_INTENT_OPT_IN},
		{"opt-in", SG_INTENT_OPT_IN}, {"help", SG_INTENT_HELP},
		{"info", SG_INTENT_HELP},
	};
	if (!hint)
		return SG_INTENT_NONE;
	for (size_t i = 0; i < SG_ARRAY_SIZE(map); i++)
		if (strcasecmp(hint, map[i].word) == 0)
			return map[i].intent;
	return SG_INTENT_NONE;
}
