/* SPDX-License-Identifier: Apache-2.0 */
/* GET /console, /console/ and /console/<file>: the compliance console, static files
 * embedded in the binary (console.h). No token is needed for the files
 * themselves: they hold no data; the page asks for a token and sends it
 * as a bearer token to the API, the same as any other client.
 *
 * Every answer carries a strict Content-Security-Policy (scripts, styles,
 * images and fetches from this origin only, no inline script or style, no
 * framing, no form posts, no <base>), nosniff, DENY framing and no
 * referrer, so that a value the page shows can never run as code and the
 * page cannot be framed or talk to another origin.
 */
#include <string.h>

#include "console.h"
#include "daemon.h"
#include "internal.h"

static const char csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

static void security_headers(sg__req *req)
{
	sg__resp_header(req, "Content-Security-Policy", csp);
	sg__resp_header(req, "X-Content-Type-Options", "nosniff");
	sg__resp_header(req, "X-Frame-Options", "DENY");
	sg__resp_header(req, "Referrer-Policy", "no-referrer");
	sg__resp_header(req, "Cross-Origin-Opener-Policy", "same-origin");
	sg__resp_header(req, "Cross-Origin-Resource-Policy", "same-origin");
}

void sg__console_file(sg__req *req)
{
	const char *name = req->arg[0] ? req->arg : "index.html";
	security_headers(req);
	for (const sg__console_asset *a = sg__console_assets; a->name; a++) {
		if (strcmp(a->name, name) == 0) {
			sg__respond(req, 200, a->content_type, a->data, a->len);
			return;
		}
	}
	sg__respond_error(req, 404, "not_found", "no such console file");
}
