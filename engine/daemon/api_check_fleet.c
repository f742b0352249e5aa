/* SPDX-License-Identifier: Apache-2.0 */
/* The claiming check (purpose optout_confirm / help_reply) on a fleet node
 * (docs/fleet.md): the claim is a write, so it is an event of the stream
 * like every other. The ordinary check finds the opt-out that would be
 * confirmed; the claim event (SG_ACTION_CONFIRM_SENT, as the library
 * records it) is published, and the verdict allows the one confirmation
 * only when the event applied in stream order (the window open, not
 * claimed before on any node). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

typedef struct fleet_claim {
	sg_verdict *v;
	void (*cb)(sg__req *req, int rc, void *ctx);
	void *ctx;
	char fkey[SG_KEY_MAX], tkey[SG_KEY_MAX];
} fleet_claim;

static void claimed(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	fleet_claim *fc = ctx;
	if (!status && n == 1 && out[0].status == 0 && !out[0].duplicate && out[0].seq) {
		fc->v->allow = true;
		fc->v->confirmation = true;
	}
	/* else: the deny stands (already claimed, the window closed, or no ack:
	 * a confirmation not sent is the safe side) */
	void (*cb)(sg__req *, int, void *) = fc->cb;
	void *cctx = fc->ctx;
	free(fc);
	cb(req, status == -EAGAIN ? 0 : status, cctx);
}

void sg__check_fleet_claim(sg__req *req, const char *from, const char *to, sg_purpose purpose, sg_verdict *v,
			   void (*cb)(sg__req *req, int rc, void *ctx), void *ctx)
{
	sg_engine *e = req->srv->engine;
	int rc = sg_check(e, from, to, SG_PURPOSE_MESSAGE, v);
	if (rc || v->allow || v->reason != SG_REASON_OPTED_OUT) {
		cb(req, rc, ctx); /* nothing to confirm: the ordinary verdict */
		return;
	}
	fleet_claim *fc = calloc(1, sizeof(*fc));
	if (!fc) {
		cb(req, -ENOMEM, ctx);
		return;
	}
	fc->v = v;
	fc->cb = cb;
	fc->ctx = ctx;
	/* the keys as sg_check read them: the recipient in the sender's country */
	char cc[3] = "";
	const char *dc = sg_engine_default_country(e);
	bool ok = sg_number_normalize(from, strlen(from), dc, SG_FIELD_ADDRESS, fc->fkey, NULL) == 0;
	if (ok && sg_number_country(fc->fkey, cc))
		sg__strlcpy(cc, dc ? dc : "", sizeof(cc));
	ok = ok && sg_number_normalize(to, strlen(to), cc[0] ? cc : NULL, SG_FIELD_ANY, fc->tkey, NULL) == 0;
	if (!ok) {
		free(fc);
		cb(req, 0, ctx); /* not reached: sg_check read them; the deny stands */
		return;
	}
	sg_event_in ev = {.size = sizeof(ev),
			  .action = SG_ACTION_CONFIRM_SENT,
			  .source = SG_SOURCE_API,
			  .sender = fc->fkey,
			  .recipient = fc->tkey,
			  .scope = v->scope,
			  .scope_id = v->scope_id,
			  .rule = purpose == SG_PURPOSE_HELP_REPLY ? "help_reply" : "optout_confirm"};
	rc = sg__submit_events(req, &ev, 1, claimed, fc);
	if (rc) {
		free(fc);
		cb(req, 0, ctx); /* not claimed: denied */
	}
}
