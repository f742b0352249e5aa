/* SPDX-License-Identifier: Apache-2.0 */
/* Bandwidth Messaging v2 callbacks (a JSON array; every element counts) and
 * HTTP Basic authentication (reference/webhooks.md §3). */
#include <errno.h>
#include <string.h>

#include "wh_internal.h"

/* A string member, or the first element of an array member. */
static const cJSON *first_of(const cJSON *obj, const char *name)
{
	const cJSON *v = sg__wh_jget(obj, name);
	return cJSON_IsArray(v) ? cJSON_GetArrayItem(v, 0) : v;
}

static const char *text_or(sg__wh_parsed *p, const char *a, const cJSON *b, bool *bad)
{
	return a && *a ? a : sg__wh_jtext(p, b, bad);
}

static int element(sg__wh_parsed *p, const cJSON *el, const char **detail)
{
	sg__wh_message *m = sg__wh_add(p);
	bool bad = false;
	if (!m)
		return -ENOMEM;
	if (!cJSON_IsObject(el)) {
		*detail = "a Bandwidth callback element is not an object";
		return SG_EJSON;
	}
	const cJSON *type = sg__wh_jget(el, "type"), *msg = sg__wh_jget(el, "message");
	const char *t = cJSON_GetStringValue(type);
	if (!t) {
		*detail = "no type in a Bandwidth callback";
		return SG_EJSON;
	}
	m->event_type = sg__wh_jtext(p, type, &bad);
	if (!m->event_type)
		return -ENOMEM;
	if (strcmp(t, "message-received") == 0)
		m->kind = SG__WH_INBOUND;
	else if (strcmp(t, "message-failed") == 0 || strcmp(t, "message-delivered") == 0 ||
		 strcmp(t, "message-sending") == 0)
		m->kind = SG__WH_STATUS;
	else
		return sg__wh_finish(p, m); /* IGNORED */
	if (!cJSON_IsObject(msg)) {
		*detail = "no message object in a Bandwidth callback";
		return SG_EJSON;
	}

	const char *owner = sg__wh_jtext(p, sg__wh_jget(msg, "owner"), &bad);
	const char *el_to = sg__wh_jtext(p, sg__wh_jget(el, "to"), &bad);
	m->msg_id = sg__wh_jtext(p, sg__wh_jget(msg, "id"), &bad);
	m->account = sg__wh_jtext(p, sg__wh_jget(msg, "applicationId"), &bad);
	m->from = sg__wh_jtext(p, sg__wh_jget(msg, "from"), &bad);
	if (m->kind == SG__WH_INBOUND) {
		/* Our number is the owner of this copy of a group message. */
		m->to = owner && !*owner ? text_or(p, el_to, first_of(msg, "to"), &bad) : owner;
		m->text = sg__wh_jtext(p, sg__wh_jget(msg, "text"), &bad);
		m->text_len = m->text ? strlen(m->text) : 0;
	} else {
		m->to = text_or(p, el_to, first_of(msg, "to"), &bad);
		if (m->from && !*m->from)
			m->from = owner;
		m->status = m->event_type;
		m->status_code = sg__wh_jtext(p, sg__wh_jget(el, "errorCode"), &bad);
	}
	m->event_time_us = sg__wh_time(cJSON_GetStringValue(sg__wh_jget(msg, "time")));
	if (!m->event_time_us)
		m->event_time_us = sg__wh_time(cJSON_GetStringValue(sg__wh_jget(el, "time")));
	m->num_media = (unsigned)cJSON_GetArraySize(sg__wh_jget(msg, "media"));
	if (!owner || !el_to || !m->msg_id || !m->account || !m->from || !m->to || !m->text ||
	    !m->status_code)
		return -ENOMEM;
	if (bad) {
		*detail = "a Bandwidth field has the wrong type";
		return SG_EJSON;
	}
	if (!*m->msg_id) {
		*detail = "no message.id in a Bandwidth callback";
		return -EINVAL;
	}
	if (!*(m->kind == SG__WH_INBOUND ? m->from : m->to)) {
		*detail = m->kind == SG__WH_INBOUND ? "no message.from" : "no recipient (to)";
		return -EINVAL;
	}
	return sg__wh_finish(p, m);
}

/* One element; a bad one becomes INVALID (the rest of the array counts). */
static int one(sg__wh_parsed *p, const cJSON *el, size_t *bad, int *bad_rc, const char **detail)
{
	const char *why = "malformed";
	int rc = element(p, el, &why);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		sg__wh_message *m = &p->msgs[p->n - 1];
		unsigned idx = m->index;
		p->n--;
		m = sg__wh_add(p); /* every field back to "" */
		m->index = idx;
		m->kind = SG__WH_INVALID;
		m->event_type = "invalid";
		m->invalid = why;
		*detail = why;
		*bad_rc = rc;
		(*bad)++;
	}
	return 0;
}

int sg__wh_parse_bandwidth(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	sg__wh_parsed p = {.provider = SG__WH_BANDWIDTH};
	const char *detail = "out of memory";
	cJSON *root = NULL;
	size_t bad = 0;
	int bad_rc = 0, rc = sg__wh_json_parse(req, &root, &detail);
	if (rc)
		goto fail;
	if (cJSON_IsArray(root) || cJSON_IsObject(root)) {
		const cJSON *el;
		if (cJSON_IsObject(root))
			rc = one(&p, root, &bad, &bad_rc, &detail);
		else
			cJSON_ArrayForEach(el, root)
				if (!rc)
					rc = one(&p, el, &bad, &bad_rc, &detail);
		if (rc)
			goto fail;
		if (bad && bad == p.n) {
			rc = bad_rc; /* nothing readable: 400 */
			goto fail;
		}
	} else {
		rc = SG_EJSON;
		detail = "a Bandwidth callback is a JSON array";
		goto fail;
	}
	cJSON_Delete(root);
	*out = p;
	return 0;
fail:
	cJSON_Delete(root);
	sg__wh_parsed_free(&p);
	if (err_detail)
		*err_detail = detail;
	return rc;
}

int sg__wh_verify_bandwidth(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	if (!cfg || !cfg->basic_user || !*cfg->basic_user)
		return sg__wh_unsigned(cfg);
	return sg__wh_basic_check(req, cfg->basic_user, cfg->basic_pass);
}
