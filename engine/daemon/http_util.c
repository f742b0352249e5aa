/* SPDX-License-Identifier: Apache-2.0 */
/* Small HTTP helpers: reason phrases, headers, query strings, percent
 * decoding. See http.h. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "internal.h"

const char *sg__http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

const char *sg__req_peer(const sg__req *req)
{
	return req->conn->peer;
}

const char *sg__req_header(const sg__req *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

bool sg__req_content_type_is(const sg__req *req, const char *media_type)
{
	const char *ct = sg__req_header(req, "content-type");
	if (!ct)
		return false;
	size_t n = strlen(media_type);
	if (strncasecmp(ct, media_type, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

int sg__url_decode(const char *in, size_t len, bool plus_space, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		if (ch == '%') {
			int byte = sg__pct_byte(in, len, i);
			if (byte < 0)
				return -EINVAL;
			ch = (char)byte;
			i += 2;
		} else if (ch == '+' && plus_space) {
			ch = ' ';
		}
		if (o + 1 >= outlen)
			return -E2BIG;
		out[o++] = ch;
	}
	if (outlen == 0)
		return -E2BIG;
	out[o] = '\0';
	return (int)o;
}

int sg__req_query(const sg__req *req, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = req->query;
	while (*p) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		if (klen == nlen && memcmp(p, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : p + plen;
			int n = sg__url_decode(v, (size_t)(p + plen - v), true, out, outlen);
			if (n > 0 && memchr(out, '\0', (size_t)n))
				return -EINVAL; /* %00: never cut a value short */
			return n;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return -ENOENT;
}

int sg__req_public_url(const sg__req *req, sg__buf *out)
{
	const char *base = req->srv->cfg->public_base_url;
	size_t n = strlen(base);
	if (n == 0)
		return -ENOENT;
	while (n > 0 && base[n - 1] == '/')
		n--;
	sg__buf_add(out, base, n);
	sg__buf_adds(out, req->path);
	if (req->query[0]) {
		sg__buf_addc(out, '?');
		sg__buf_adds(out, req->query);
	}
	return sg__buf_failed(out) ? -ENOMEM : 0;
}
