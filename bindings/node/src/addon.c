/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The N-API addon behind bindings/node/index.js: an Engine class over
 * sg_engine and the module functions, using only include/stopgate.h.
 * Errors are thrown as Error objects with .code (the library's name,
 * "SG_ELOCKED", or the errno name) and .errno (the negative code), the
 * message being sg_strerror's text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <stopgate.h>

#define ARG_MAX 256 /* longer strings are copied to the heap */

static const char *const error_names[] = {
	"SG_ENUMBER", "SG_ENOCOUNTRY", "SG_EUTF8", "SG_ETOOLONG", "SG_ESTORE", "SG_ECORRUPT",
	"SG_ERDONLY", "SG_ELOCKED", "SG_ENOTFOUND", "SG_EJSON", "SG_ECONFIG", "SG_EKEYWORDS",
	"SG_EBADSIG", "SG_ECHAIN", "SG_EVERSION", "SG_ECONSENT", "SG_EFORBIDDEN", "SG_ENOSTORE",
	"SG_ETRUNCATED",
};

static const char *error_name(int code, char buf[32])
{
	int i = code - SG_ERROR_MIN;
	if (i >= 0 && i < (int)(sizeof(error_names) / sizeof(error_names[0])))
		return error_names[i];
	switch (-code) {
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case EAGAIN: return "EAGAIN";
	case EIO: return "EIO";
	case EPERM: return "EPERM";
	}
	snprintf(buf, 32, "SG_ERROR(%d)", code);
	return buf;
}

/* Throw the library's error code, the message prefixed with what was done. */
static napi_value throw_sg(napi_env env, int code, const char *what)
{
	char namebuf[32], msg[512];
	const char *name = error_name(code, namebuf);
	snprintf(msg, sizeof(msg), "%s%s%s", what ? what : "", what ? ": " : "", sg_strerror(code));
	napi_value m, c, err, no;
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
	napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &c);
	napi_create_error(env, c, m, &err);
	napi_create_int32(env, code, &no);
	napi_set_named_property(env, err, "errno", no);
	napi_throw(env, err);
	return NULL;
}

static napi_value throw_type(napi_env env, const char *msg)
{
	napi_throw_type_error(env, "EINVAL", msg);
	return NULL;
}

/* A string argument, in buf when it fits, else on the heap (*heap to free). */
typedef struct str_arg {
	char buf[ARG_MAX];
	char *s;
	char *heap;
	size_t len;
} str_arg;

static bool get_str(napi_env env, napi_value v, str_arg *a)
{
	a->heap = NULL;
	a->s = a->buf;
	if (napi_get_value_string_utf8(env, v, a->buf, sizeof(a->buf), &a->len) != napi_ok)
		return false;
	if (a->len < sizeof(a->buf) - 1)
		return true;
	size_t n;
	if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok || !(a->heap = malloc(n + 1)))
		return false;
	napi_get_value_string_utf8(env, v, a->heap, n + 1, &a->len);
	a->s = a->heap;
	return true;
}

static bool is_nullish(napi_env env, napi_value v)
{
	napi_valuetype t;
	return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

/* ---- the engine ----------------------------------------------------------- */

typedef struct wrap {
	sg_engine *e;
} wrap;

static void finalize(napi_env env, void *data, void *hint)
{
	(void)env, (void)hint;
	wrap *w = data;
	sg_engine_close(w->e);
	free(w);
}

static bool opt_str(napi_env env, napi_value obj, const char *key, str_arg *a, bool *present)
{
	napi_value v;
	bool has = false;
	*present = false;
	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return true;
	napi_get_named_property(env, obj, key, &v);
	if (is_nullish(env, v))
		return true;
	*present = true;
	return get_str(env, v, a);
}

static bool opt_bool(napi_env env, napi_value obj, const char *key, bool *out)
{
	napi_value v;
	bool has = false;
	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return true;
	napi_get_named_property(env, obj, key, &v);
	if (is_nullish(env, v))
		return true;
	return napi_get_value_bool(env, v, out) == napi_ok;
}

/* new Engine(dataDir, {readonly = true, create = false, keywordsDir, defaultCountry, quietHoursDir}) */
static napi_value engine_new(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], self;
	napi_get_cb_info(env, info, &argc, argv, &self, NULL);
	str_arg dir, kw, cc, qh;
	if (argc < 1 || !get_str(env, argv[0], &dir))
		return throw_type(env, "Engine(dataDir, options): dataDir must be a string");
	bool readonly = true, create = false, has_kw = false, has_cc = false, has_qh = false, ok = true;
	kw.heap = cc.heap = qh.heap = NULL;
	if (argc > 1 && !is_nullish(env, argv[1])) {
		ok = opt_bool(env, argv[1], "readonly", &readonly) && opt_bool(env, argv[1], "create", &create) &&
		     opt_str(env, argv[1], "keywordsDir", &kw, &has_kw) &&
		     opt_str(env, argv[1], "defaultCountry", &cc, &has_cc) &&
		     opt_str(env, argv[1], "quietHoursDir", &qh, &has_qh);
	}
	napi_value ret = NULL;
	if (!ok) {
		throw_type(env, "Engine options: readonly/create are booleans, "
				"keywordsDir/defaultCountry/quietHoursDir strings");
		goto out;
	}
	if (create && readonly) {
		throw_sg(env, -EINVAL, "create: true needs readonly: false");
		goto out;
	}
	/* Filled here, not by sg_options_default(): size is this addon's
	 * sizeof, so a newer library treats it as an older caller. */
	sg_options o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.data_dir = dir.s;
	o.flags = (readonly ? SG_OPEN_RDONLY : 0) | (create ? SG_OPEN_CREATE : 0);
	o.keywords_dir = has_kw ? kw.s : NULL;
	o.default_country = has_cc ? cc.s : NULL;
	o.quiet_hours_dir = has_qh ? qh.s : NULL;
	wrap *w = calloc(1, sizeof(*w));
	if (!w) {
		throw_sg(env, -ENOMEM, "open");
		goto out;
	}
	int rc = sg_engine_open(&o, &w->e);
	if (rc) {
		free(w);
		char what[300];
		snprintf(what, sizeof(what), "open %s", dir.s);
		throw_sg(env, rc, what);
		goto out;
	}
	if (napi_wrap(env, self, w, finalize, NULL, NULL) != napi_ok) {
		sg_engine_close(w->e);
		free(w);
		throw_sg(env, -ENOMEM, "open");
		goto out;
	}
	ret = self;
out:
	free(dir.heap);
	free(kw.heap);
	free(cc.heap);
	free(qh.heap);
	return ret;
}

/* The engine a method is called on (its `this`) and up to *argc of its
 * arguments (argc NULL: none wanted); NULL, with a JS exception pending,
 * when `this` is not an open Engine. */
static sg_engine *this_engine(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv)
{
	napi_value self;
	napi_get_cb_info(env, info, argc, argv, &self, NULL);
	wrap *w = NULL;
	if (napi_unwrap(env, self, (void **)&w) != napi_ok || !w) {
		throw_type(env, "not a stopgate Engine");
		return NULL;
	}
	if (!w->e) {
		napi_throw_error(env, "ERR_CLOSED", "stopgate Engine is closed");
		return NULL;
	}
	return w->e;
}

static napi_value engine_close(napi_env env, napi_callback_info info)
{
	napi_value self;
	napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
	wrap *w = NULL;
	if (napi_unwrap(env, self, (void **)&w) == napi_ok && w && w->e) {
		sg_engine_close(w->e);
		w->e = NULL;
	}
	return NULL;
}

static napi_value engine_readonly(napi_env env, napi_callback_info info)
{
	napi_value r;
	sg_engine *e = this_engine(env, info, NULL, NULL);
	if (!e)
		return NULL;
	napi_get_boolean(env, sg_engine_readonly(e), &r);
	return r;
}

static napi_value engine_default_country(napi_env env, napi_callback_info info)
{
	napi_value r;
	sg_engine *e = this_engine(env, info, NULL, NULL);
	if (!e)
		return NULL;
	const char *cc = sg_engine_default_country(e);
	if (cc && cc[0])
		napi_create_string_utf8(env, cc, NAPI_AUTO_LENGTH, &r);
	else
		napi_get_null(env, &r);
	return r;
}

/* The verdict as a plain object (the JS side returns its shared frozen
 * "allowed" object for undefined). */
static napi_value verdict_value(napi_env env, const sg_verdict *v)
{
	napi_value o, x;
	napi_create_object(env, &o);
	napi_get_boolean(env, v->allow, &x);
	napi_set_named_property(env, o, "allow", x);
	const char *r = sg_reason_name(v->reason);
	if (r)
		napi_create_string_utf8(env, r, NAPI_AUTO_LENGTH, &x);
	else
		napi_get_null(env, &x);
	napi_set_named_property(env, o, "reason", x);
	if (v->scope)
		napi_create_string_utf8(env, sg_scope_name(v->scope), NAPI_AUTO_LENGTH, &x);
	else
		napi_get_null(env, &x);
	napi_set_named_property(env, o, "scope", x);
	napi_create_string_utf8(env, v->scope_id, NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, o, "scopeId", x);
	napi_create_double(env, (double)v->since_us, &x);
	napi_set_named_property(env, o, "sinceUs", x);
	napi_create_double(env, (double)v->seq, &x);
	napi_set_named_property(env, o, "seq", x);
	napi_get_boolean(env, v->confirmation, &x);
	napi_set_named_property(env, o, "confirmation", x);
	return o;
}

static bool get_purpose(napi_env env, napi_value v, sg_purpose *p)
{
	int32_t i;
	if (is_nullish(env, v)) {
		*p = SG_PURPOSE_MESSAGE;
		return true;
	}
	if (napi_get_value_int32(env, v, &i) != napi_ok || i < 0 || i > SG_PURPOSE_OPTIN_CONFIRM)
		return false;
	*p = (sg_purpose)i;
	return true;
}

/* _check(from, to, purposeCode): undefined when simply allowed, else the verdict */
static napi_value engine_check(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	sg_engine *e = this_engine(env, info, &argc, argv);
	if (!e)
		return NULL;
	str_arg from, to;
	sg_purpose p;
	if (argc < 2 || !get_str(env, argv[0], &from))
		return throw_type(env, "check(from, to): from must be a string");
	if (!get_str(env, argv[1], &to)) {
		free(from.heap);
		return throw_type(env, "check(from, to): to must be a string");
	}
	napi_value ret = NULL;
	if (!get_purpose(env, argc > 2 ? argv[2] : NULL, &p)) {
		throw_type(env, "check: unknown purpose");
		goto out;
	}
	sg_verdict v;
	int rc = sg_check(e, from.s, to.s, p, &v);
	if (rc)
		throw_sg(env, rc, "check");
	else if (!(v.allow && !v.confirmation))
		ret = verdict_value(env, &v);
out:
	free(from.heap);
	free(to.heap);
	return ret;
}

/* The recipients of a batch as C strings in *tos (n of them, each and the
 * array freed by free_strs); false with a JS exception pending. */
static bool get_strs(napi_env env, napi_value arr, const char *what, char ***tos, uint32_t *n)
{
	uint32_t len = 0;
	napi_get_array_length(env, arr, &len);
	*n = 0;
	if (!(*tos = calloc(len ? len : 1, sizeof(**tos)))) {
		throw_sg(env, -ENOMEM, what);
		return false;
	}
	for (; *n < len; (*n)++) {
		napi_value el;
		size_t l;
		napi_get_element(env, arr, *n, &el);
		if (napi_get_value_string_utf8(env, el, NULL, 0, &l) != napi_ok) {
			char msg[96];
			snprintf(msg, sizeof(msg), "%s: every recipient must be a string", what);
			throw_type(env, msg);
			return false;
		}
		if (!((*tos)[*n] = malloc(l + 1))) {
			throw_sg(env, -ENOMEM, what);
			return false;
		}
		napi_get_value_string_utf8(env, el, (*tos)[*n], l + 1, &l);
	}
	return true;
}

static void free_strs(char **tos, uint32_t n)
{
	for (uint32_t i = 0; tos && i < n; i++)
		free(tos[i]);
	free(tos);
}

/* _checkBatch(from, [to...], purposeCode) -> [verdict | undefined] */
static napi_value engine_check_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	sg_engine *e = this_engine(env, info, &argc, argv);
	if (!e)
		return NULL;
	bool is_array = false;
	uint32_t n = 0;
	sg_purpose p;
	str_arg from;
	if (argc < 2 || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array)
		return throw_type(env, "checkBatch(from, to): to must be an array of strings");
	if (!get_purpose(env, argc > 2 ? argv[2] : NULL, &p))
		return throw_type(env, "checkBatch: unknown purpose");
	if (!get_str(env, argv[0], &from))
		return throw_type(env, "checkBatch(from, to): from must be a string");
	napi_get_array_length(env, argv[1], &n);
	napi_value ret = NULL;
	char **tos = NULL;
	uint32_t got = 0;
	sg_verdict *out = malloc((n ? n : 1) * sizeof(*out));
	if (!out) {
		throw_sg(env, -ENOMEM, "checkBatch");
		goto out;
	}
	if (!get_strs(env, argv[1], "checkBatch", &tos, &got))
		goto out;
	n = got;
	int rc = sg_check_batch(e, from.s, (const char *const *)tos, n, p, out);
	if (rc) {
		throw_sg(env, rc, "checkBatch");
		goto out;
	}
	napi_create_array_with_length(env, n, &ret);
	for (uint32_t i = 0; i < n; i++) {
		napi_value v;
		if (out[i].allow && !out[i].confirmation)
			napi_get_undefined(env, &v);
		else
			v = verdict_value(env, &out[i]);
		napi_set_element(env, ret, i, v);
	}
out:
	free_strs(tos, got);
	free(out);
	free(from.heap);
	return ret;
}

/* The quiet-hours and cap fields of a verdict object, as GET /v1/check
 * shows them: category (null: none applied), region and tz ("" when no rule
 * covers the number), nextAllowedUs (0: none) and rule (quiet_hours /
 * frequency_cap only). */
static void quiet_value(napi_env env, napi_value o, const sg_verdict *v, const sg_quiet *q)
{
	napi_value x;
	const char *cat = q->category != SG_CATEGORY_DEFAULT ? sg_category_name(q->category) : NULL;
	if (cat)
		napi_create_string_utf8(env, cat, NAPI_AUTO_LENGTH, &x);
	else
		napi_get_null(env, &x);
	napi_set_named_property(env, o, "category", x);
	bool where = cat && q->evaluated;
	napi_create_string_utf8(env, where ? q->region : "", NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, o, "region", x);
	napi_create_string_utf8(env, where ? q->tz : "", NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, o, "tz", x);
	bool held = cat && !v->allow &&
		    (v->reason == SG_REASON_FREQUENCY_CAP || (v->reason == SG_REASON_QUIET_HOURS && q->evaluated));
	napi_create_double(env, held ? (double)q->next_allowed_us : 0, &x);
	napi_set_named_property(env, o, "nextAllowedUs", x);
	napi_create_string_utf8(env, held ? q->rule : "", NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, o, "rule", x);
}

/* _checkEx(from, [to...], purposeCode, categoryCode, atUs, campaign | null)
 * -> [verdict]: one sg_check_ex call; every verdict an object with the
 * quiet-hours fields (index.js validated the options). */
static napi_value engine_check_ex(napi_env env, napi_callback_info info)
{
	size_t argc = 6;
	napi_value argv[6];
	sg_engine *e = this_engine(env, info, &argc, argv);
	if (!e)
		return NULL;
	bool is_array = false;
	int32_t cat = 0;
	double at = 0;
	sg_check_opts opts;
	sg_check_opts_init(&opts, sizeof(opts)); /* this addon's size */
	if (argc < 6 || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array)
		return throw_type(env, "check: to must be an array of strings");
	if (!get_purpose(env, argv[2], &opts.purpose))
		return throw_type(env, "check: unknown purpose");
	if (napi_get_value_int32(env, argv[3], &cat) != napi_ok || cat < SG_CATEGORY_DEFAULT ||
	    cat > SG_CATEGORY_CONVERSATIONAL)
		return throw_type(env, "check: unknown category");
	if (napi_get_value_double(env, argv[4], &at) != napi_ok || !(at >= 0 && at < 9.2e18))
		return throw_type(env, "check: at must be a time after 1970");
	opts.category = (sg_category)cat;
	opts.at_us = (int64_t)at;
	str_arg from, camp;
	camp.heap = NULL;
	bool has_camp = !is_nullish(env, argv[5]);
	if (!get_str(env, argv[0], &from))
		return throw_type(env, "check(from, to): from must be a string");
	napi_value ret = NULL;
	char **tos = NULL;
	uint32_t n = 0;
	sg_verdict *out = NULL;
	sg_quiet *q = NULL;
	if (has_camp && !get_str(env, argv[5], &camp)) {
		throw_type(env, "check: campaign must be a string");
		goto out;
	}
	opts.campaign = has_camp ? camp.s : NULL;
	if (!get_strs(env, argv[1], "check", &tos, &n))
		goto out;
	out = malloc((n ? n : 1) * sizeof(*out));
	q = malloc((n ? n : 1) * sizeof(*q));
	if (!out || !q) {
		throw_sg(env, -ENOMEM, "check");
		goto out;
	}
	int rc = sg_check_ex(e, from.s, (const char *const *)tos, n, &opts, out, q);
	if (rc) {
		throw_sg(env, rc, "check");
		goto out;
	}
	napi_create_array_with_length(env, n, &ret);
	for (uint32_t i = 0; i < n; i++) {
		napi_value v = verdict_value(env, &out[i]);
		quiet_value(env, v, &out[i], &q[i]);
		napi_set_element(env, ret, i, v);
	}
out:
	free_strs(tos, n);
	free(out);
	free(q);
	free(from.heap);
	free(camp.heap);
	return ret;
}

/* classify(text, campaign?) -> {intent, confidence, lang, rule, reply}; a
 * Buffer is classified as its bytes (invalid UTF-8: SG_EUTF8). */
static napi_value engine_classify(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	sg_engine *e = this_engine(env, info, &argc, argv);
	if (!e)
		return NULL;
	if (argc < 1)
		return throw_type(env, "classify(text): text must be a string or a Buffer");
	bool is_buf = false;
	const char *text;
	size_t len;
	str_arg t, camp;
	t.heap = camp.heap = NULL;
	napi_is_buffer(env, argv[0], &is_buf);
	if (is_buf) {
		void *data;
		napi_get_buffer_info(env, argv[0], &data, &len);
		text = data ? data : "";
	} else if (get_str(env, argv[0], &t)) {
		text = t.s;
		len = t.len;
	} else {
		return throw_type(env, "classify(text): text must be a string or a Buffer");
	}
	bool has_camp = argc > 1 && !is_nullish(env, argv[1]);
	napi_value ret = NULL;
	if (has_camp && !get_str(env, argv[1], &camp)) {
		throw_type(env, "classify(text, campaign): campaign must be a string");
		goto out;
	}
	sg_classification c;
	int rc = sg_classify(e, has_camp ? camp.s : NULL, text, len, &c);
	if (rc) {
		throw_sg(env, rc, "classify");
		goto out;
	}
	napi_value x;
	napi_create_object(env, &ret);
	napi_create_string_utf8(env, sg_intent_name(c.intent), NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, ret, "intent", x);
	napi_create_string_utf8(env, sg_confidence_name(c.confidence), NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, ret, "confidence", x);
	napi_create_string_utf8(env, c.lang, NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, ret, "lang", x);
	napi_create_string_utf8(env, c.rule, NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, ret, "rule", x);
	napi_create_string_utf8(env, c.reply, NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, ret, "reply", x);
out:
	free(t.heap);
	free(camp.heap);
	return ret;
}

/* ---- module functions ------------------------------------------------------- */

/* normalize(number, country?, field?) -> key */
static napi_value m_normalize(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	str_arg num, cc;
	cc.heap = NULL;
	if (argc < 1 || !get_str(env, argv[0], &num))
		return throw_type(env, "normalize(number): number must be a string");
	bool has_cc = argc > 1 && !is_nullish(env, argv[1]);
	int32_t field = SG_FIELD_ANY;
	napi_value ret = NULL;
	if (has_cc && (!get_str(env, argv[1], &cc) || cc.len != 2)) {
		throw_sg(env, -EINVAL, "normalize: country must be an ISO 3166 alpha-2 code (e.g. \"US\")");
		goto out;
	}
	if (argc > 2 && !is_nullish(env, argv[2]) &&
	    (napi_get_value_int32(env, argv[2], &field) != napi_ok || field < 0 || field > SG_FIELD_NUMBER)) {
		throw_type(env, "normalize: unknown field");
		goto out;
	}
	if (has_cc) {
		cc.s[0] = (char)(cc.s[0] & ~0x20);
		cc.s[1] = (char)(cc.s[1] & ~0x20);
	}
	char key[SG_KEY_MAX];
	int rc = sg_number_normalize(num.s, num.len, has_cc ? cc.s : NULL, (sg_field)field, key, NULL);
	if (rc) {
		char what[300];
		snprintf(what, sizeof(what), "normalize \"%.200s\"", num.s);
		throw_sg(env, rc, what);
		goto out;
	}
	napi_create_string_utf8(env, key, NAPI_AUTO_LENGTH, &ret);
out:
	free(num.heap);
	free(cc.heap);
	return ret;
}

static napi_value m_country_of(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], ret;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	str_arg k;
	if (argc < 1 || !get_str(env, argv[0], &k))
		return throw_type(env, "countryOf(key): key must be a string");
	char cc[3];
	if (sg_number_country(k.s, cc) == 0)
		napi_create_string_utf8(env, cc, 2, &ret);
	else
		napi_get_null(env, &ret);
	free(k.heap);
	return ret;
}

static napi_value m_version(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value v;
	napi_create_string_utf8(env, sg_version(), NAPI_AUTO_LENGTH, &v);
	return v;
}

static napi_value m_strerror(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], v;
	int32_t code = 0;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (argc > 0)
		napi_get_value_int32(env, argv[0], &code);
	napi_create_string_utf8(env, sg_strerror(code), NAPI_AUTO_LENGTH, &v);
	return v;
}

NAPI_MODULE_INIT()
{
	napi_property_descriptor methods[] = {
		{"_check", NULL, engine_check, NULL, NULL, NULL, napi_default, NULL},
		{"_checkBatch", NULL, engine_check_batch, NULL, NULL, NULL, napi_default, NULL},
		{"_checkEx", NULL, engine_check_ex, NULL, NULL, NULL, napi_default, NULL},
		{"classify", NULL, engine_classify, NULL, NULL, NULL, napi_default, NULL},
		{"close", NULL, engine_close, NULL, NULL, NULL, napi_default, NULL},
		{"readonly", NULL, NULL, engine_readonly, NULL, NULL, napi_default, NULL},
		{"defaultCountry", NULL, NULL, engine_default_country, NULL, NULL, napi_default, NULL},
	};
	napi_value cls, f;
	napi_define_class(env, "Engine", NAPI_AUTO_LENGTH, engine_new, NULL,
			  sizeof(methods) / sizeof(methods[0]), methods, &cls);
	napi_set_named_property(env, exports, "Engine", cls);
	napi_create_function(env, "normalize", NAPI_AUTO_LENGTH, m_normalize, NULL, &f);
	napi_set_named_property(env, exports, "normalize", f);
	napi_create_function(env, "countryOf", NAPI_AUTO_LENGTH, m_country_of, NULL, &f);
	napi_set_named_property(env, exports, "countryOf", f);
	napi_create_function(env, "version", NAPI_AUTO_LENGTH, m_version, NULL, &f);
	napi_set_named_property(env, exports, "version", f);
	napi_create_function(env, "strerror", NAPI_AUTO_LENGTH, m_strerror, NULL, &f);
	napi_set_named_property(env, exports, "strerror", f);
	return exports;
}
