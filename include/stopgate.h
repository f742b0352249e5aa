/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stopgate: opt-out and consent enforcement for business text messaging.
 *
 * One sg_engine is opened on a data directory holding an LMDB environment.
 * A process opens it either read-write (exactly one process at a time: the
 * daemon, or a CLI command while no daemon runs) or read-only (any number of
 * processes, e.g. SMS gateways that link libstopgate and check before every
 * send while the daemon records opt-outs).
 *
 * Conventions (as in lmdb.h):
 *  - Every function returning int returns 0 on success or a negative code:
 *    -errno values or SG_E* below. sg_strerror() describes both.
 *  - Out-parameters are written only on success unless stated otherwise.
 *  - Strings are NUL-terminated UTF-8 unless a length is passed.
 *  - "Key" means the canonical identity of a sender or recipient as produced
 *    by sg_number_normalize(): "+<E.164>", "sc:<CC>:<digits>",
 *    "aid:<lowercase>" or "raw:<input>" (quarantine).
 *
 * Thread-safety: an sg_engine may be shared by any number of threads for
 * sg_check*, sg_classify and the read functions. Write functions
 * (sg_record, sg_*_put, sg_import_*) may be called from any thread; they are
 * serialised by LMDB's writer lock and block while another write runs.
 * sg_engine_close() must not race with any other call on the same engine.
 */
#ifndef STOPGATE_H
#define STOPGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SG_EXPORT __attribute__((visibility("default")))
#else
#define SG_EXPORT
#endif

/* SG_VERSION ("MAJOR.MINOR.PATCH") and SG_VERSION_MAJOR/MINOR/PATCH: the
 * version of this header, generated from meson.build. */
#include "stopgate_version.h"

/* The version of the library loaded at run time, e.g. "0.1.0" (static). */
SG_EXPORT const char *sg_version(void);

/* ---- errors ------------------------------------------------------------ */

enum sg_error {
	SG_OK = 0,
	SG_ERROR_MIN = -1000,
	SG_ENUMBER = SG_ERROR_MIN, /* input is not a usable number / sender ID */
	SG_ENOCOUNTRY,   /* national number but no default country known */
	SG_EUTF8,        /* invalid UTF-8 */
	SG_ETOOLONG,     /* text or field longer than allowed */
	SG_ESTORE,       /* LMDB reported an unexpected error */
	SG_ECORRUPT,     /* data in the store is not what stopgate wrote */
	SG_ERDONLY,      /* write attempted on a read-only engine */
	SG_ELOCKED,      /* another process holds the data directory for writing */
	SG_ENOTFOUND,    /* no such campaign / sender / event */
	SG_EJSON,        /* malformed JSON or a field of the wrong type */
	SG_ECONFIG,      /* invalid configuration value */
	SG_EKEYWORDS,    /* a keyword file does not load or a pattern does not compile */
	SG_EBADSIG,      /* webhook signature missing, malformed or wrong */
	SG_ECHAIN,       /* the event log hash chain does not verify */
	SG_EVERSION,     /* data directory written by an incompatible version */
	SG_ECONSENT,     /* an opt-in through the API/operator path over the recipient's own
			  * opt-out: needs SG_OVERRIDE_CONSUMER_REQUEST and a note */
	SG_EFORBIDDEN,   /* the policy forbids this change (e.g. opt-in overrides) */
	SG_ENOSTORE,     /* no consent store in the data directory (see SG_OPEN_CREATE) */
	SG_ETRUNCATED,   /* data.mdb is missing, emptied or shorter than LMDB's meta page says */
	SG_ERESOLVED,    /* the review event was already resolved (sg_review_resolve) */
	SG_EQUIETHOURS,  /* a quiet-hours rule file or zone does not load (since 0.2) */
	SG_ENOKEYWORDS,  /* the engine was opened without keyword rules (keywords_dir "none"):
			  * it checks and records, it does not classify (since 0.2) */
	/* New codes are added here; callers treat an unknown code as an error
	 * (sg_strerror() describes it). */
};

/* Describe an error code. Never returns NULL; the string is static. */
SG_EXPORT const char *sg_strerror(int err);

/* ---- identities -------------------------------------------------------- */

/* Longest canonical key, including the terminating NUL. */
#define SG_KEY_MAX 80

/* What a field may hold, which decides how letters are read. */
typedef enum sg_field {
	SG_FIELD_ANY = 0,     /* a phone number; letters are an error */
	SG_FIELD_ADDRESS = 1, /* a sender address: numbers, short codes, alphanumeric IDs */
	SG_FIELD_NUMBER = 2,  /* number-only: digits-first letters are keypad vanity letters */
} sg_field;

typedef enum sg_channel {
	SG_CHANNEL_SMS = 0,
	SG_CHANNEL_WHATSAPP = 1,
	SG_CHANNEL_RCS = 2,
} sg_channel;

/* Key classes, as the first bytes of a key tell. */
typedef enum sg_key_class {
	SG_KEY_E164 = 1,  /* "+14155552671" */
	SG_KEY_SHORT = 2, /* "sc:US:72345" */
	SG_KEY_ALPHA = 3, /* "aid:mybrand" */
	SG_KEY_RAW = 4,   /* "raw:..." quarantine, never produced by sg_number_normalize */
} sg_key_class;

/*
 * Reduce one sender or recipient to its canonical key.
 * in/len: UTF-8 input (need not be NUL-terminated). default_country: ISO
 * 3166 alpha-2 code ("US", "GB") or NULL/"" for none; choose it from the
 * receiving number (sg_number_country()), never from one global setting when
 * a better one is known. out receives the key (NUL-terminated, at most
 * SG_KEY_MAX bytes). channel (may be NULL) receives the channel named by a
 * scheme prefix such as "whatsapp:".
 * Returns SG_ENUMBER or SG_ENOCOUNTRY when no key can be made; never guesses.
 * Thread-safe, no allocation.
 */
SG_EXPORT int sg_number_normalize(const char *in, size_t len, const char *default_country,
				  sg_field field, char out[SG_KEY_MAX], sg_channel *channel);

/*
 * The ISO country of a canonical key, for use as the default country of the
 * other party's number: "+1..." -> "US" (NANP), "+44..." -> "GB",
 * "sc:CA:..." -> "CA". Writes 2 letters and a NUL into cc.
 * Returns SG_ENOCOUNTRY when the key carries no country stopgate knows.
 */
SG_EXPORT int sg_number_country(const char *key, char cc[3]);

/* Build the quarantine key "raw:<input>" (control and format characters
 * dropped, truncated to fit). Always succeeds. */
SG_EXPORT void sg_number_quarantine(const char *in, size_t len, char out[SG_KEY_MAX]);

/* ---- engine ------------------------------------------------------------ */

typedef struct sg_engine sg_engine;

/* Where an opt-out is recorded (and, for the check, every enclosing level). */
typedef enum sg_scope_kind {
	SG_SCOPE_DEFAULT = 0,  /* per policy: the campaign when registered, else the sender */
	SG_SCOPE_SENDER = 1,   /* one sending number / short code / sender ID */
	SG_SCOPE_GROUP = 2,    /* sender group: messaging service, profile, pool */
	SG_SCOPE_CAMPAIGN = 3, /* TCR campaign */
	SG_SCOPE_BRAND = 4,    /* TCR brand */
	SG_SCOPE_GLOBAL = 5,   /* recipient-wide block, set by an operator */
} sg_scope_kind;

/* How a probable (not certain) revocation is treated. */
typedef enum sg_probable_mode {
	SG_PROBABLE_OPT_OUT = 0, /* default: a missed opt-out costs far more than a false one */
	SG_PROBABLE_REVIEW = 1,  /* recorded as an event for review; consent unchanged */
} sg_probable_mode;

/*
 * Structs the caller fills and passes in (sg_policy, sg_options,
 * sg_event_in, sg_inbound_msg, sg_signal_msg) begin with `size`: sizeof the
 * struct as the caller was compiled, set by sg_policy_default() /
 * sg_options_default(), and by the caller for the others
 * (`sg_event_in ev = {.size = sizeof ev, ...}`); a size of 0 is refused
 * with -EINVAL, so a struct filled without it never reads as another
 * layout. An array of sg_event_in is walked with the first event's size as
 * its stride, so every event in one call has the same size. A later library treats a
 * smaller size as an older caller and uses defaults for the fields it does
 * not have; an earlier library accepts a larger size only when the fields it
 * does not know are zero (else -EINVAL). Structs the library fills for the
 * caller (sg_verdict, sg_classification, sg_event_out, sg_recipient_flag,
 * sg_sender_info, sg_stats, sg_verify_result) change only with the
 * library's major version (the soname); the ones passed to callbacks
 * (sg_event, sg_scope_state) may gain fields at their end.
 */
typedef struct sg_policy {
	size_t size;                 /* sizeof(sg_policy), set by sg_policy_default() */
	sg_scope_kind optout_scope;  /* SG_SCOPE_DEFAULT unless overridden */
	bool require_registered;     /* deny senders without an ACTIVE campaign */
	bool require_optin;          /* deny when the campaign requires opt-in and none is recorded */
	bool allow_inactive_campaigns; /* let a sender whose known campaign is not ACTIVE
				      * (EXPIRED, SUSPENDED, ...) send; default false:
				      * carriers block it, so the check denies
				      * campaign_inactive */
	bool forbid_optin_override;  /* refuse every API/operator opt-in over a recipient's
				      * own opt-out, even with the override */
	sg_probable_mode probable;
	int64_t confirm_window_us;   /* one confirmation/HELP reply window; default 5 min */
	int64_t dedup_ttl_us;        /* webhook de-duplication window; default and minimum 48 h */
	/* Added in 0.2 (see sg_check_ex). The category of a check that names none
	 * and whose sender's campaign has no usecase stopgate knows:
	 * SG_CATEGORY_DEFAULT (the default) = none, so quiet hours never apply to
	 * it; SG_CATEGORY_MARKETING makes every such check subject to them. */
	int default_category;        /* an sg_category */
	/* Added in 0.2: quiet hours for a number with no place (toll-free 8XX,
	 * 5XX, an unassigned area code): SG_QUIET_UNKNOWN_COUNTRY (default)
	 * applies every rule of the sender's country in every zone of it (the
	 * intersection: most restrictive); SG_QUIET_UNKNOWN_SKIP applies none. */
	int quiet_unknown;
} sg_policy;
#define SG_QUIET_UNKNOWN_COUNTRY 0
#define SG_QUIET_UNKNOWN_SKIP 1

/* Fill a policy with the defaults described above. */
/* Fill a policy (or options, below) with the defaults for a struct of
 * `size` bytes, the caller's sizeof: a caller built against an older, smaller
 * struct gets only the fields it has, one built against a newer, larger one
 * gets zeros past the fields this library knows (their defaults), and size
 * is set to `size`. sg_policy_default() / sg_options_default() pass the
 * caller's sizeof. */
SG_EXPORT void sg_policy_init(sg_policy *policy, size_t size);
static inline void sg_policy_default(sg_policy *policy)
{
	sg_policy_init(policy, sizeof(*policy));
}

#define SG_OPEN_RDONLY 0x1u /* read-only: any number of processes */
/* Group durability for a process that acknowledges writes itself (the
 * daemon's writer thread): each commit syncs its data once and leaves the
 * LMDB meta page to the next commit's sync (MDB_NOMETASYNC), so a crash can
 * undo the LAST commit only. With this flag a write is durable once a
 * later write has returned or sg_sync() has: acknowledge a batch only then. */
#define SG_OPEN_DEFER_SYNC 0x2u
/* Create a new store (read-write only) when the directory holds none. Without
 * it, a directory with no store is SG_ENOSTORE. Never creates a store over
 * what is left of one (lock.mdb, filter.bits, writer.lock without data.mdb,
 * or an emptied data.mdb): that is SG_ETRUNCATED, restore from a backup. */
#define SG_OPEN_CREATE 0x4u

typedef struct sg_options {
	size_t size;                 /* sizeof(sg_options), set by sg_options_default() */
	const char *data_dir;        /* required; created (0700) with SG_OPEN_CREATE */
	unsigned flags;              /* SG_OPEN_* */
	const char *keywords_dir;    /* NULL: the installed default keyword set; "none" (since
				      * 0.2): no keyword rules, for an engine that only checks
				      * and records (a gateway's send path): it opens faster
				      * and smaller, and sg_classify and inbound messages fail
				      * SG_ENOKEYWORDS */
	const char *default_country; /* last-resort default country for national numbers, or NULL */
	const sg_policy *policy;     /* NULL: the defaults; else start from sg_policy_default().
				      * Copied by sg_engine_open(). */
	size_t initial_map_size;     /* 0: default (64 MiB); the map grows by itself */
	size_t filter_capacity;      /* recipients the negative-lookup filter is sized for
				      * at open; 0: default (1 million, or twice the
				      * recipients stored). It grows by itself. */
	/* Added in 0.2: the quiet-hours rules (*.qh and zones/nanp.tsv, format in
	 * quiet-hours/README.md). NULL: the installed default set; "" or "none":
	 * no quiet hours at all. */
	const char *quiet_hours_dir;
} sg_options;

/* Defaults for everything but data_dir (policy NULL: the default policy). */
SG_EXPORT void sg_options_init(sg_options *opts, size_t size);
static inline void sg_options_default(sg_options *opts)
{
	sg_options_init(opts, sizeof(*opts));
}

/*
 * Open an engine. On success *ret is a new handle the caller frees with
 * sg_engine_close(). Opening read-write takes an exclusive lock on the data
 * directory (SG_ELOCKED if another process has it). Loads the keyword set.
 */
SG_EXPORT int sg_engine_open(const sg_options *opts, sg_engine **ret);

/* Close and free. NULL is a no-op. */
SG_EXPORT void sg_engine_close(sg_engine *engine);

/* Reload the keyword set and campaign registry (e.g. on SIGHUP). On failure
 * the previous set stays in force. Not to race with sg_classify. */
SG_EXPORT int sg_engine_reload(sg_engine *engine);

/* Make every write that has returned durable (for SG_OPEN_DEFER_SYNC; a
 * no-op cost otherwise). Blocks for one fsync. */
SG_EXPORT int sg_sync(sg_engine *engine);

/* Free the reader slots of processes that died holding them (LMDB
 * mdb_reader_check); *dead (may be NULL) receives how many. A long-running
 * process calls it on a timer. Thread-safe. */
SG_EXPORT int sg_engine_check_readers(sg_engine *engine, int *dead);

/* Facts of an open engine. The pointers stay valid until sg_engine_close();
 * thread-safe. */
SG_EXPORT bool sg_engine_readonly(const sg_engine *engine);
SG_EXPORT const sg_policy *sg_engine_policy(const sg_engine *engine);
SG_EXPORT const char *sg_engine_default_country(const sg_engine *engine);

/* ---- the check (hot path) ---------------------------------------------- */

typedef enum sg_purpose {
	SG_PURPOSE_MESSAGE = 0,      /* any ordinary message */
	SG_PURPOSE_OPTOUT_CONFIRM = 1, /* the one opt-out confirmation after a STOP */
	SG_PURPOSE_HELP_REPLY = 2,   /* the reply to a HELP */
	SG_PURPOSE_OPTIN_CONFIRM = 3, /* confirmation after START (ordinary rules) */
} sg_purpose;

/* Why a check denied, in the order the check decides. */
typedef enum sg_reason {
	SG_REASON_NONE = 0,               /* allowed */
	SG_REASON_INVALID_NUMBER = 1,
	SG_REASON_SENDER_UNREGISTERED = 2,
	SG_REASON_CAMPAIGN_INACTIVE = 3,
	SG_REASON_NOT_SMS_CAPABLE = 4,    /* "recipient_not_sms_capable" */
	SG_REASON_OPTED_OUT = 5,
	SG_REASON_NO_CONSENT = 6,
	SG_REASON_CLAIM_REQUIRED = 7,     /* "confirmation_needs_writer": the one confirmation /
					   * HELP reply may be due, but a read-only engine
					   * cannot claim it: ask the daemon (POST /v1/check) */
	SG_REASON_CHECK_FAILED = 8,       /* "check_failed": not decided (a store error);
					   * every verdict starts as this deny */
	SG_REASON_QUIET_HOURS = 9,        /* "quiet_hours": a marketing message outside the hours
					   * the recipient's jurisdiction allows (decided after
					   * every other reason: see sg_check_ex) */
	SG_REASON_FREQUENCY_CAP = 10,     /* "frequency_cap": the recipient's jurisdiction (or the
					   * campaign's maxPerDay) caps marketing contacts per rolling
					   * 24 h on one subject (sg_send_cap; in sg_violations) */
	/* Set by a fleet node's daemon (docs/fleet.md), never by sg_check: */
	SG_REASON_STALE_REPLICA = 11,     /* "stale_replica": the node has not heard from the
					   * stream for replication.maxStaleMs */
	SG_REASON_REPLICA_DIVERGED = 12,  /* "replica_diverged": its chain head differs from
					   * another node's at the same stream sequence */
} sg_reason;

typedef struct sg_verdict {
	bool allow;
	sg_reason reason;
	sg_scope_kind scope;        /* the scope that decided (opted_out / no_consent), else 0 */
	char scope_id[SG_KEY_MAX];  /* its id ("" for global) */
	int64_t since_us;           /* when that state began (UTC µs), 0 if none */
	uint64_t seq;               /* the event that set it, 0 if none */
	bool confirmation;          /* allowed only as the one confirmation / HELP reply */
} sg_verdict;

/* Every verdict starts as a deny (SG_REASON_CHECK_FAILED) and becomes an
 * allow only once decided, so a caller that ignores an error return of the
 * check functions never sends on an undecided verdict. */

/*
 * May `from` send to `to` now? Both are raw inputs, normalized here (the
 * default country of `to` is the country of `from`, else the engine's).
 * An unparseable input is a deny with SG_REASON_INVALID_NUMBER, not an error.
 * Errors are reserved for store failures. No allocation; lock-free for
 * readers; safe from any number of threads and processes.
 *
 * With SG_PURPOSE_OPTOUT_CONFIRM / SG_PURPOSE_HELP_REPLY, a pair denied as
 * opted out is allowed once within the policy window after the STOP / HELP
 * that caused it. On a read-write engine the allowance is claimed (a small
 * durable write) so a second call denies. A read-only engine cannot claim
 * it, so it never allows it: it denies with SG_REASON_CLAIM_REQUIRED (the
 * pair is opted out; ask the writer, e.g. the daemon's POST /v1/check with
 * the purpose, which claims it). A batch never grants confirmations.
 */
SG_EXPORT int sg_check(sg_engine *engine, const char *from, const char *to, sg_purpose purpose,
		       sg_verdict *verdict);

/* One sender, n recipients, one snapshot: out[i] is the verdict for to[i]. */
SG_EXPORT int sg_check_batch(sg_engine *engine, const char *from, const char *const *to, size_t n,
			     sg_purpose purpose, sg_verdict *out);

/* ---- quiet hours ------------------------------------------------------- */

/*
 * What a message is, for the laws on when it may be sent (47 CFR
 * 64.1200(c)(1) and the state rules in quiet-hours/): they cover
 * telephone solicitations, i.e. marketing.
 */
typedef enum sg_category {
	SG_CATEGORY_DEFAULT = 0,       /* not given: the sender's campaign's TCR usecase decides
					* (MARKETING, MIXED, LOW_VOLUME_MIXED, SWEEPSTAKE, ... are
					* marketing; 2FA, ACCOUNT_NOTIFICATION, ... are not), else
					* the policy's default_category (default: none) */
	SG_CATEGORY_MARKETING = 1,
	SG_CATEGORY_INFORMATIONAL = 2,
	SG_CATEGORY_TRANSACTIONAL = 3,
	SG_CATEGORY_CONVERSATIONAL = 4,
} sg_category;

/* "marketing", ...; NULL for SG_CATEGORY_DEFAULT. Static strings. */
SG_EXPORT const char *sg_category_name(sg_category c);
SG_EXPORT int sg_category_parse(const char *name, sg_category *ret);
/* The category of a TCR usecase ("MARKETING" -> SG_CATEGORY_MARKETING,
 * "2FA" -> SG_CATEGORY_TRANSACTIONAL, ...); SG_CATEGORY_DEFAULT when the
 * usecase is NULL, empty or unknown. Case-insensitive. */
SG_EXPORT sg_category sg_category_of_usecase(const char *usecase);

/* Options of sg_check_ex; caller-filled, versioned like sg_policy. */
typedef struct sg_check_opts {
	size_t size;          /* sizeof(sg_check_opts), set by sg_check_opts_default() */
	sg_purpose purpose;
	sg_category category; /* SG_CATEGORY_DEFAULT: resolved as described above */
	int64_t at_us;        /* the instant the message would be sent (UTC µs); 0: now */
	/* Added in 0.2: the frequency cap's subject (a campaign id); NULL: the
	 * sender's campaign (see sg_send_cap). */
	const char *campaign;
} sg_check_opts;
/* The defaults at the caller's size (see sg_policy_init). */
SG_EXPORT void sg_check_opts_init(sg_check_opts *opts, size_t size);
static inline void sg_check_opts_default(sg_check_opts *opts)
{
	sg_check_opts_init(opts, sizeof(*opts));
}

/* The quiet-hours part of a verdict (library-filled, fixed until the next
 * major version). All strings NUL-terminated, "" when unknown. */
typedef struct sg_quiet {
	sg_category category;    /* the category the check resolved (DEFAULT: none) */
	bool evaluated;          /* the recipient's place is one the rules know (region and
				  * tz are set); false: no rule covers its country */
	int64_t next_allowed_us; /* SG_REASON_QUIET_HOURS: the earliest instant at or after
				  * at_us the same check would allow (UTC µs); 0 when no
				  * window opens within 400 days, or not quiet;
				  * SG_REASON_FREQUENCY_CAP: when the oldest counted send
				  * leaves the 24 h window */
	char region[8];          /* the recipient's region, ISO 3166-2 ("US-FL") or country */
	char tz[96];             /* its IANA zone(s), comma-separated ("America/Chicago,America/New_York") */
	char rule[224];          /* quiet: the rule file and statute that decided; frequency
				  * cap: "FL", "OK", "MD" or "maxPerDay" */
} sg_quiet;

/*
 * sg_check_batch with options: the purpose, the message's category and the
 * instant `at` it would be sent ("may I send at T?"). Every other reason is
 * decided first; a message they allow is then denied SG_REASON_QUIET_HOURS
 * when its category is marketing and the local time of the recipient's
 * number at `at` is outside the hours of a rule that covers it: the federal
 * rule, the state's or province's, for every zone the number may be in
 * (several zones or regions: the intersection). The one opt-out
 * confirmation and HELP replies (SG_PURPOSE_OPTOUT_CONFIRM,
 * SG_PURPOSE_HELP_REPLY) are never held by quiet hours. Last, an allowed
 * marketing SG_PURPOSE_MESSAGE (not the one confirmation) whose recipient
 * and subject (opts->campaign, else the sender's campaign) reached a
 * frequency cap in the 24 h before `at` is denied SG_REASON_FREQUENCY_CAP
 * (scope campaign; sg_send_cap tells the caps; the sends counted are the
 * ones recorded with sg_sends_record). quiet (may be NULL) receives n
 * entries. opts NULL: defaults (the same as sg_check_batch).
 */
SG_EXPORT int sg_check_ex(sg_engine *engine, const char *from, const char *const *to, size_t n,
			  const sg_check_opts *opts, sg_verdict *out, sg_quiet *quiet);

/* Names as they appear in JSON, CSV and the CLI. Returned strings are
 * static; the parsers return -EINVAL for an unknown name. Thread-safe. */
SG_EXPORT const char *sg_reason_name(sg_reason reason);   /* "opted_out", ...; NULL for NONE */
SG_EXPORT const char *sg_scope_name(sg_scope_kind scope); /* "sender", "campaign", ... */
SG_EXPORT int sg_scope_parse(const char *name, sg_scope_kind *ret);

/* ---- classification ---------------------------------------------------- */

typedef enum sg_intent {
	SG_INTENT_NONE = 0,
	SG_INTENT_OPT_OUT = 1,
	SG_INTENT_OPT_IN = 2,
	SG_INTENT_HELP = 3,
} sg_intent;

typedef enum sg_confidence {
	SG_CONF_NONE = 0,
	SG_CONF_EXACT = 1,    /* the whole normalized text is a keyword */
	SG_CONF_PHRASE = 2,   /* a clear natural-language request (FCC reasonable person) */
	SG_CONF_PROBABLE = 3, /* a keyword inside a longer text: policy decides */
} sg_confidence;

#define SG_TEXT_MAX_CHARS 1600
#define SG_REPLY_MAX 640

typedef struct sg_classification {
	sg_intent intent;
	sg_confidence confidence;
	char lang[8];            /* "en", "es", ...; "" when none */
	char rule[64];           /* id of the rule that matched; "" when none */
	char reply[SG_REPLY_MAX]; /* reply to send back; "" when none */
} sg_classification;

/*
 * Classify one inbound text. campaign_id may be NULL; when given, the
 * campaign's own keywords (TCR optoutKeywords etc.) count and its messages
 * are the replies. Returns SG_EUTF8 for invalid UTF-8 (sg_utf8_repair()
 * makes a copy it reads). A text of any length is classified: past
 * SG_TEXT_MAX_CHARS characters (MMS, joined parts) it is read in
 * overlapping windows, an opt-out found in any of them deciding. Thread-safe
 * (per-thread pcre2 match data).
 */
SG_EXPORT int sg_classify(sg_engine *engine, const char *campaign_id, const char *text, size_t len,
			  sg_classification *out);

/*
 * The calibrated score of a classification (0..1; since 0.2): how likely
 * its intent is what the sender meant, measured per rule on the project's
 * evaluation corpora (keywords/calibration.tsv, scripts/calibrate.py) and
 * shrunk toward the confidence tier's prior (exact 0.98, phrase 0.9,
 * probable 0.6) for rules that matched few messages; for intent none, how
 * often an unmatched message was truly none. Decisions do not depend on
 * it: it orders a review queue and tells an operator how far to trust a
 * `probable`. Thread-safe; 0 for NULL arguments.
 */
SG_EXPORT double sg_classification_score(sg_engine *engine, const sg_classification *c);

/*
 * The version of the keyword set in force: "kw-" and 16 hex digits of a
 * SHA-256 over every rule file's name and bytes, so two engines with the
 * same rules name the same set. Every event the policy records from a
 * classified text carries it (sg_event.keywords). Thread-safe.
 */
#define SG_KWVERSION_MAX 24
SG_EXPORT void sg_keywords_version(sg_engine *engine, char out[SG_KWVERSION_MAX]);

/* Copy text into out (at least 3 * len + 1 bytes) with every byte that is
 * not part of valid UTF-8 replaced by U+FFFD, so a message with broken
 * encoding can still be classified. Returns the length written (out is
 * NUL-terminated). Thread-safe, no allocation. */
SG_EXPORT size_t sg_utf8_repair(const char *text, size_t len, char *out);

/* Longest message body the daemon stores with an inbound event (bytes, at a
 * character boundary); the whole text is classified, and an event whose
 * body was cut says so in its note ("body_truncated ..."). */
#define SG_BODY_STORE_MAX 32768

/* Static names; thread-safe. */
SG_EXPORT const char *sg_intent_name(sg_intent intent); /* "opt_out", "opt_in", "help", "none" */
SG_EXPORT const char *sg_confidence_name(sg_confidence c);

/* ---- events (the write path) ------------------------------------------- */

typedef enum sg_action {
	SG_ACTION_NONE = 0,           /* sg_record: store only the dedup_key (e.g. an
				       * inbound message that meant nothing) */
	SG_ACTION_OPT_OUT = 1,
	SG_ACTION_OPT_IN = 2,
	SG_ACTION_HELP = 3,
	SG_ACTION_FLAG_NOT_SMS_CAPABLE = 4,
	SG_ACTION_CLEAR_NOT_SMS_CAPABLE = 5,
	SG_ACTION_REVIEW = 6,         /* probable revocation held for review; consent unchanged */
	SG_ACTION_REDACT = 7,         /* message bodies recorded before event_time were removed */
	SG_ACTION_CONFIRM_SENT = 8,   /* the one confirmation / HELP reply was let through */
	/* Registry changes are events of the same log, so that a replica that
	 * applies the log has the same registry (sg_apply). The body holds the
	 * new registry record as JSON and is never redacted. */
	SG_ACTION_CAMPAIGN = 9,       /* a campaign registered or changed: its TCR JSON */
	SG_ACTION_SENDER = 10,        /* a number attached to a campaign / group, or detached:
				       * {"sender":..., "campaign":..., "group":...} */
	SG_ACTION_REVIEW_RESOLVED = 11, /* a person decided a review event (sg_review_resolve) */
	/* The send ledger (sg_sends_record) is kept out of the consent log,
	 * but sealed into it: rule "sends_seal", note
	 * "sends=<first>-<last> hash=<hex>" (the chained SHA-256 of the send
	 * blocks up to <last>), or rule "sends_prune", note
	 * "before_send=<first kept> before=<RFC 3339>" (retention). No
	 * recipient, scope global, no consent effect. */
	SG_ACTION_SENDS = 12,
} sg_action;

typedef enum sg_source {
	SG_SOURCE_KEYWORD = 1,
	SG_SOURCE_PROVIDER_SIGNAL = 2,
	SG_SOURCE_API = 3,
	SG_SOURCE_IMPORT = 4,
	SG_SOURCE_OPERATOR = 5,
} sg_source;

/* Static names ("opt_out", "provider_signal", ...); the parsers return
 * -EINVAL for an unknown name. Thread-safe. */
SG_EXPORT const char *sg_action_name(sg_action a);
SG_EXPORT int sg_action_parse(const char *name, sg_action *ret);
SG_EXPORT const char *sg_source_name(sg_source s);
SG_EXPORT int sg_source_parse(const char *name, sg_source *ret);

/* An operator/API opt-in that lifts the recipient's own opt-out must say
 * why; the event is recorded with rule "override:consumer_request" so the
 * audit log shows it. */
typedef enum sg_override {
	SG_OVERRIDE_NONE = 0,
	SG_OVERRIDE_CONSUMER_REQUEST = 1, /* the consumer asked, by another channel (note required) */
} sg_override;

/* One consent event to record. Strings may be NULL (= absent). */
typedef struct sg_event_in {
	size_t size;                 /* sizeof(sg_event_in) as the caller was compiled (see
				      * "Structs the caller fills"); all events of one call alike */
	sg_action action;
	sg_source source;
	const char *sender;          /* canonical key of our number, or NULL (global/operator) */
	const char *recipient;       /* canonical key of the handset; required except REDACT */
	sg_scope_kind scope;         /* SG_SCOPE_DEFAULT: decided by policy */
	const char *scope_id;        /* with an explicit scope: its id; NULL: derived from sender */
	const char *provider;        /* "twilio", "telnyx", ... */
	const char *provider_msg_id; /* provider's message id */
	const char *dedup_key;       /* NULL: none; else events with an equal key within the
				      * dedup window are duplicates and change nothing */
	const char *rule;            /* matched keyword rule / provider code */
	const char *body;            /* raw message text (may hold NULs; body_len counts) */
	size_t body_len;
	const char *reply;           /* reply text sent back, if any */
	const char *note;            /* operator note, import file name, ... */
	int64_t event_time_us;       /* provider's event time (UTC µs); 0: receive time */
	sg_override override;        /* see sg_override; SG_OVERRIDE_NONE otherwise */
	int64_t time_us;             /* when it is recorded (UTC µs); 0: sg_record reads the clock
				      * once per call. The store reads no clock while applying:
				      * de-duplication windows, the confirmation window and the
				      * state's times all come from the events. */
	const char *keywords;        /* the keyword set that classified it (sg_keywords_version());
				      * set by the policy, NULL for events no rule decided */
} sg_event_in;

typedef struct sg_event_out {
	int status;        /* 0, or the error for this event alone (bad input) */
	uint64_t seq;      /* sequence of the recorded event (or of the original for duplicates) */
	bool duplicate;    /* dedup_key seen within the window: nothing changed */
	bool applied;      /* consent state changed (false when older than the current state) */
} sg_event_out;

/*
 * Record n events in one durable LMDB transaction (group commit): when this
 * returns 0 every event in the batch with out[i].status == 0 is on disk
 * (fsync'd) and in the consent state. Events are validated first; an invalid
 * event gets its own status and does not fail the batch. An opt-in with
 * source api or operator that would lift an opt-out the recipient made
 * themselves (source keyword or provider_signal) at any scope it touches
 * gets SG_ECONSENT unless it carries SG_OVERRIDE_CONSUMER_REQUEST and a
 * note (SG_EFORBIDDEN when the policy forbids overrides). The recipient's
 * own START (source keyword or provider_signal, or an imported message-log
 * row, source import) always applies. A store failure
 * (e.g. disk full) fails the whole batch with nothing written. out[] is
 * filled even on whole-batch failure (status = the error).
 */
SG_EXPORT int sg_record(sg_engine *engine, const sg_event_in *events, size_t n, sg_event_out *out);

/* A recorded event, as read back. Pointers are valid only inside the
 * callback that receives it. */
typedef struct sg_event {
	uint64_t seq;
	int64_t time_us;       /* when stopgate recorded it (UTC µs) */
	int64_t event_time_us; /* provider's event time, or time_us */
	sg_action action;
	sg_source source;
	sg_scope_kind scope;
	const char *scope_id;
	const char *sender, *recipient, *campaign, *brand;
	const char *provider, *provider_msg_id, *rule, *reply, *note;
	const char *body; /* NULL once redacted */
	size_t body_len;
	uint8_t body_sha256[32];
	uint8_t prev_hash[32];
	uint8_t hash[32];
	const char *dedup_key; /* NULL: none (and for events written by 0.1) */
	const char *keywords;  /* the keyword set that classified it; NULL: none recorded */
} sg_event;

/* Return non-zero from the callback to stop early; that value is returned. */
typedef int (*sg_event_cb)(const sg_event *ev, void *ctx);

/*
 * Read up to max events with seq >= from_seq, in order, in one snapshot.
 * *next_seq (may be NULL) receives the seq to resume from. Constant memory.
 */
SG_EXPORT int sg_events_read(sg_engine *engine, uint64_t from_seq, size_t max, sg_event_cb cb,
			     void *ctx, uint64_t *next_seq);

/* Every event that concerns one recipient key, in order. */
SG_EXPORT int sg_events_for_recipient(sg_engine *engine, const char *recipient_key, sg_event_cb cb,
				      void *ctx);

/*
 * Apply events recorded by another store (read with sg_events_read) to this
 * one, in their order: the materialised view of a replicated log. Each
 * event must be the next one (ev->seq == this store's last seq + 1) and must
 * come out with the same hash, which proves both stores hold the same
 * history and applied it the same way; state is then identical, whatever
 * the wall clock or the batching. out[i]: duplicate when this store already
 * holds that event (same hash); status -EAGAIN when events before it are
 * missing (apply those first). Returns SG_ECHAIN, with nothing written,
 * when an event is not the one this store would have recorded (a diverged
 * store or registry). Events must carry their bodies unless redacted.
 * Read-write engines only.
 */
SG_EXPORT int sg_apply(sg_engine *engine, const sg_event *events, size_t n, sg_event_out *out);

/* ---- the review queue ------------------------------------------------ */

/*
 * A probable revocation held for review (SG_ACTION_REVIEW, when a campaign
 * or the policy sets probable to SG_PROBABLE_REVIEW) waits until a person
 * resolves it. So does every probable opt-in (since 0.2: the intent
 * model's reading of "please start sending again"), whatever the policy:
 * consent is never granted on a guess; its event's note says
 * "proposed=opt_in". The resolution is an event of its own in the same log
 * (SG_ACTION_REVIEW_RESOLVED, source operator) that names the review event,
 * the decision, who decided and why:
 *
 *   rule  "review:opt_out", "review:opt_in" or "review:none"
 *   note  "review=<seq>; by=<who>; why=<why>"
 *
 * with the review event's sender, recipient, scope, scope id and event time
 * (the time of the message), so that the opt-out lands exactly where the
 * review held it back and is ordered by when the person wrote, not by when
 * someone read it: a START the person sent after that message still wins.
 * A decision of opt_out records the opt-out in the same durable
 * transaction, counted as the recipient's own (an API opt-in over it needs
 * the consumer_request override, as over a STOP). A review is resolved
 * once: a second resolution is SG_ERESOLVED, whoever sends it. The store
 * keeps an index of the pending ones, so listing them reads no log.
 */
typedef enum sg_review_decision {
	SG_REVIEW_NONE = 0,    /* not a revocation: consent unchanged */
	SG_REVIEW_OPT_OUT = 1, /* a revocation: the opt-out is recorded */
	SG_REVIEW_OPT_IN = 2,  /* (since 0.2) a request to be texted (again): the opt-in is
				* recorded as the person's own, at their message's time, as
				* their START would be */
} sg_review_decision;

#define SG_REVIEW_BY_MAX 64     /* bytes of who decided (UTF-8, no control characters, no ';') */
#define SG_REVIEW_NOTE_MAX 1024 /* bytes of why (UTF-8, no control characters but tab and newline) */

/* "opt_out" / "opt_in" / "none"; the parser returns -EINVAL for another name. Static,
 * thread-safe. */
SG_EXPORT const char *sg_review_decision_name(sg_review_decision d);
SG_EXPORT int sg_review_decision_parse(const char *name, sg_review_decision *ret);

/*
 * The pending review events with seq > after_seq, oldest first, at most
 * max (>= 1), read in one snapshot from the index (not the log). cb
 * receives each review event as sg_events_read() gives it (body included
 * unless redacted); its return stops the walk and is returned. *next_seq
 * (may be NULL) receives the after_seq of the next page: the last event
 * given when more are pending after it, else 0. -EAGAIN (this call and
 * sg_review_state): a read-only engine on a store that no writer of this
 * version has opened yet, which has no index (a writer builds it from the
 * log when it opens the store).
 */
SG_EXPORT int sg_reviews_pending(sg_engine *engine, uint64_t after_seq, size_t max, sg_event_cb cb,
				 void *ctx, uint64_t *next_seq);

/* How many review events are pending (*count) and when the oldest of them
 * was recorded (*oldest_us, 0 when none; may be NULL), from the index in
 * one snapshot: for a metric or an alert on undecided messages. -EAGAIN as
 * sg_reviews_pending. (since 0.2) */
SG_EXPORT int sg_reviews_pending_count(sg_engine *engine, uint64_t *count, int64_t *oldest_us);

/* Where review event review_seq stands: SG_ENOTFOUND when it is no review
 * event; else 0 and *resolution_seq (may be NULL) receives the seq of the
 * event that resolved it, or 0 while it is pending. */
SG_EXPORT int sg_review_state(sg_engine *engine, uint64_t review_seq, uint64_t *resolution_seq);

/*
 * The resolution of review event review_seq as an event to record, for a
 * caller that records through its own writer (the daemon's group commit):
 * on success *ret is a new request the caller frees with
 * sg_review_request_free(); sg_review_request_event() is its one event, to
 * pass to sg_record(), where out.status is SG_ERESOLVED if another
 * resolution came first. Errors: SG_ENOTFOUND (no such review event),
 * SG_ERESOLVED (already resolved), -EINVAL / SG_ETOOLONG / SG_EUTF8 for a
 * bad decision, by or note (both required), with *err_detail (may be NULL)
 * pointing at a static sentence that names the field and the rule.
 */
typedef struct sg_review_request sg_review_request;
SG_EXPORT int sg_review_prepare(sg_engine *engine, uint64_t review_seq, sg_review_decision decision,
				const char *by, const char *note, sg_review_request **ret,
				const char **err_detail);
SG_EXPORT const sg_event_in *sg_review_request_event(const sg_review_request *req);
SG_EXPORT void sg_review_request_free(sg_review_request *req);

/* Prepare and record in one call (durable on return). *ret_seq (may be
 * NULL) receives the resolution event's seq. Same errors as above;
 * read-write engines only. */
SG_EXPORT int sg_review_resolve(sg_engine *engine, uint64_t review_seq, sg_review_decision decision,
				const char *by, const char *note, uint64_t *ret_seq, const char **err_detail);

/* What a SG_ACTION_REVIEW_RESOLVED event says. note points into ev->note
 * (valid as long as ev is). SG_ENOTFOUND when ev is another action,
 * SG_ECORRUPT when its rule or note is not laid out as above. */
typedef struct sg_review_resolution {
	uint64_t review_seq;
	sg_review_decision decision;
	char by[SG_REVIEW_BY_MAX + 1];
	const char *note;
} sg_review_resolution;
SG_EXPORT int sg_review_resolution_read(const sg_event *ev, sg_review_resolution *out);
/*
 * Record events in the order of an external, replicated log (a fleet's
 * JetStream stream): every node applies the same log entries in the same
 * order with this call and so assigns the same seq numbers and hash chain.
 * As sg_record, one durable transaction, with three differences: every
 * event must carry its time (time_us > 0, else -EINVAL for the call: the
 * store reads no clock, so the outcome is a function of the store and the
 * events alone); log_pos (> 0), the external log's position of the last
 * entry in this batch, is stored in the same transaction; and a log_pos
 * not above the stored one is -EALREADY with nothing written (a
 * re-delivered entry has no second effect). n may be 0 (only the position
 * advances). Read-write engines only.
 */
SG_EXPORT int sg_record_logged(sg_engine *engine, uint64_t log_pos, const sg_event_in *events, size_t n,
			       sg_event_out *out);

/* The external log position stored by sg_record_logged (0: none). */
SG_EXPORT int sg_log_position(sg_engine *engine, uint64_t *pos);

/* ---- policy: from what arrived to what is recorded ------------------- */

/*
 * The consent policy lives here, in the library: the daemon, the CLI and an
 * embedding gateway call it and only do I/O. A decision says what to record
 * (zero, one or two events: the second when the provider applied a keyword
 * to its whole sender group), the intent, the reply to send back, and how
 * the numbers were read. Nothing a sender puts in a message makes it be
 * dropped: a text of any length or encoding is classified, a provider id of
 * any length kept, and a message naming no number of ours keeps its opt-out
 * under the quarantine sender "raw:".
 */
typedef struct sg_decision sg_decision;
#define SG_DECISION_MAX_EVENTS 2

/* One inbound message. Strings may be NULL (= absent) unless marked. */
typedef struct sg_inbound_msg {
	size_t size;                 /* sizeof(sg_inbound_msg) as the caller was compiled */
	const char *provider;        /* "twilio", ...; NULL or "": "api" */
	const char *id;              /* the provider's message id, any length */
	const char *from;            /* required: the handset, raw */
	const char *to;              /* our number, raw; NULL or "": the message names none */
	const char *body;            /* the text, body_len bytes (any bytes) */
	size_t body_len;
	int64_t event_time_us;       /* the provider's time of the message; 0: when recorded */
	const char *to_country;      /* country to read a national `to` with; NULL: the engine's */
	const char *handset_country; /* the handset's country when the provider says; NULL: our number's */
	sg_intent provider_intent;   /* the provider already acted on a keyword (Twilio OptOutType,
				      * Telnyx autoresponse_type, Plivo MessageIntent): recorded as a
				      * provider signal even when the classifier disagrees */
	const char *provider_rule;   /* recorded as the rule with provider_intent */
	const char *provider_group;  /* the sender group the provider applied it to (MG..., profile) */
	const char *dedup_key;       /* NULL: "inbound:<provider>:<id>" when id is set */
	sg_source source;            /* 0: keyword (SG_SOURCE_IMPORT for message-log rows) */
} sg_inbound_msg;

/* What a provider's status callback says about the recipient. */
typedef enum sg_signal_kind {
	SG_SIGNAL_OTHER = 0,           /* delivered, queued, other failures: consent untouched */
	SG_SIGNAL_OPT_OUT = 1,         /* e.g. Twilio 21610, Telnyx 40300: the recipient opted out */
	SG_SIGNAL_NOT_SMS_CAPABLE = 2, /* e.g. Twilio 30006: a landline; never an opt-out */
} sg_signal_kind;

typedef struct sg_signal_msg {
	size_t size;                 /* sizeof(sg_signal_msg) as the caller was compiled */
	const char *provider;
	const char *id;              /* provider message id */
	const char *dedup_key;
	const char *our_number;      /* raw; NULL or "": unknown (the opt-out is then global) */
	const char *handset;         /* required: the recipient, raw */
	const char *country;         /* country to read our number with; NULL: the engine's */
	const char *handset_country; /* the handset's country when the provider says; NULL: our
				      * number's, else `country` */
	sg_signal_kind kind;
	const char *code, *status;   /* the provider's error code and status, recorded */
	const char *account, *group; /* named in the note when the sender is unknown */
	int64_t event_time_us;
} sg_signal_msg;

/*
 * Decide what an inbound message means. On success *ret is a new decision
 * the caller frees with sg_decision_free(); the events it holds point into
 * the decision and into msg->body, which must outlive recording them.
 * SG_ENUMBER / SG_ENOCOUNTRY: our number (`to`) does not normalize (set the
 * provider's country); nothing else fails but memory.
 */
SG_EXPORT int sg_decide_inbound(sg_engine *engine, const sg_inbound_msg *msg, sg_decision **ret);
SG_EXPORT int sg_decide_signal(sg_engine *engine, const sg_signal_msg *msg, sg_decision **ret);
/* Decide and record (sg_record) in one call, for an embedding gateway.
 * out[i] is the outcome of event i of the decision. */
SG_EXPORT int sg_inbound(sg_engine *engine, const sg_inbound_msg *msg, sg_decision **ret,
			 sg_event_out out[SG_DECISION_MAX_EVENTS]);

/* The decision's parts; pointers live as long as the decision. */
SG_EXPORT const sg_event_in *sg_decision_events(const sg_decision *d, size_t *n);
SG_EXPORT sg_action sg_decision_action(const sg_decision *d);
SG_EXPORT sg_intent sg_decision_intent(const sg_decision *d);
SG_EXPORT sg_confidence sg_decision_confidence(const sg_decision *d);
SG_EXPORT const char *sg_decision_reply(const sg_decision *d);     /* NULL: none */
SG_EXPORT const char *sg_decision_sender(const sg_decision *d);    /* our number's key, "raw:" */
SG_EXPORT const char *sg_decision_recipient(const sg_decision *d); /* the handset's key or raw: */
SG_EXPORT bool sg_decision_quarantined(const sg_decision *d);      /* the handset did not parse */
SG_EXPORT bool sg_decision_no_our_number(const sg_decision *d);
SG_EXPORT void sg_decision_free(sg_decision *d);

/* ---- consent state ----------------------------------------------------- */

typedef enum sg_state {
	SG_STATE_NONE = 0,
	SG_STATE_OPTED_OUT = 1,
	SG_STATE_OPTED_IN = 2,
} sg_state;

/* One scope's state for a recipient. */
typedef struct sg_scope_state {
	sg_scope_kind scope;
	const char *scope_id;
	sg_state state;
	int64_t since_us;      /* when the current state began: for an opt-out, the FIRST
				* opt-out of the current opted-out period */
	int64_t event_time_us; /* event time of the event that began it */
	uint64_t seq;          /* the event that began the current state */
	sg_source source;      /* source of that event */
	int64_t latest_us;     /* recorded time of the latest event that confirmed the
				* state (a repeated STOP), else since_us */
	uint64_t latest_seq;   /* that event, else seq */
} sg_scope_state;

typedef int (*sg_scope_cb)(const sg_scope_state *st, void *ctx);

/* Every scope with a recorded state for this recipient key. */
SG_EXPORT int sg_consent_scopes(sg_engine *engine, const char *recipient_key, sg_scope_cb cb, void *ctx);

/* Recipient flag: not SMS-capable (landline etc.). *flagged false if none. */
typedef struct sg_recipient_flag {
	bool not_sms_capable;
	char code[16];      /* provider code that set it, e.g. "30006" */
	char provider[16];
	int64_t since_us;
	uint64_t seq;
} sg_recipient_flag;
SG_EXPORT int sg_recipient_flag_get(sg_engine *engine, const char *recipient_key, sg_recipient_flag *out);

/* One (scope, recipient) pair currently opted out, for sg_optouts_foreach. */
typedef int (*sg_optout_cb)(const char *recipient_key, const sg_scope_state *st, void *ctx);

/*
 * The suppression list: call cb for every (scope, recipient) pair whose
 * state is SG_STATE_OPTED_OUT now, in recipient key order. campaign_id NULL
 * lists every pair; otherwise only the pairs that block that campaign: its
 * own campaign scope, its brand, global, and the sender and group scopes of
 * the senders attached to it. Reads in short snapshots of a few hundred
 * recipients (constant memory, no snapshot held while cb runs), so cb may
 * call the engine, and a pair changed during the walk is reported as it was
 * when its snapshot was taken. Pointers are valid only inside cb. A non-zero
 * return from cb stops the walk and is returned; a store error part way
 * returns the error after the callbacks already made.
 */
SG_EXPORT int sg_optouts_foreach(sg_engine *engine, const char *campaign_id, sg_optout_cb cb, void *ctx);

/* ---- registry: campaigns and senders ----------------------------------- */

/*
 * Insert or replace one campaign from a JSON object with TCR field names
 * (campaignId, brandId, status, usecase, subscriberOptin, subscriberOptout,
 * subscriberHelp, optinKeywords, optoutKeywords, helpKeywords, optinMessage,
 * optoutMessage, helpMessage; also brandName/displayName, helpContact,
 * messageFrequency, and "stopgate": {"optoutScope", "probable"}).
 * Durable on return. On SG_EJSON, *err_detail (may be NULL) points at a
 * static description. The change is an event of the log (SG_ACTION_CAMPAIGN,
 * source operator, rule "campaign_put", the JSON as its body), applied to
 * the registry in the same transaction; the same JSON again changes nothing
 * and records nothing.
 */
SG_EXPORT int sg_campaign_put_json(sg_engine *engine, const char *json, size_t len,
				   const char **err_detail);

/* The stored campaign as a JSON text: caller frees with free(). */
SG_EXPORT int sg_campaign_get_json(sg_engine *engine, const char *campaign_id, char **ret);

/* Attach a sender (raw number, normalized here) to a campaign and optional
 * sender group; both NULL or "" detaches. Durable on return. An event of
 * the log (SG_ACTION_SENDER, rule "sender_put" / "sender_detach", body
 * {"sender","campaign","group"}), nothing when nothing changes. */
SG_EXPORT int sg_sender_put(sg_engine *engine, const char *sender, const char *campaign_id,
			    const char *group);

typedef struct sg_sender_info {
	char key[SG_KEY_MAX];
	char campaign_id[64];
	char group[64];
	char brand_id[64];
	bool campaign_known;
	bool campaign_active;
	bool subscriber_optin; /* campaign requires opt-in */
} sg_sender_info;
SG_EXPORT int sg_sender_get(sg_engine *engine, const char *sender_key, sg_sender_info *out);

/* ---- store facts and audit --------------------------------------------- */

typedef struct sg_stats {
	uint64_t events;        /* last sequence number */
	uint64_t recipients;    /* recipients with any recorded state */
	uint64_t opted_out;     /* (scope, recipient) pairs currently opted out */
	uint64_t senders, campaigns;
	uint64_t dedup_keys;
	size_t map_size, map_used;
	uint8_t head_hash[32];
} sg_stats;
SG_EXPORT int sg_stats_get(sg_engine *engine, sg_stats *out);

/* The head of the event log: last seq (0 when empty) and its hash. */
SG_EXPORT int sg_head(sg_engine *engine, uint64_t *seq, uint8_t hash[32]);

typedef struct sg_verify_result {
	bool ok;
	uint64_t count;        /* events checked */
	uint64_t bad_seq;      /* first broken link, when !ok */
	char reason[128];
	uint8_t head_hash[32];
} sg_verify_result;

/* Walk the whole log in constant memory. Returns 0 when it could read the
 * log, whatever it found; result->ok tells. */
SG_EXPORT int sg_verify(sg_engine *engine, sg_verify_result *result);

/*
 * Retention: remove the message bodies of events recorded before before_us
 * (UTC µs) from the store (a registry change's body, its record, stays). Consent facts (who, when, what, how, each body's
 * length and SHA-256) stay, so sg_verify still succeeds. When there is
 * anything to remove, an SG_ACTION_REDACT event (source operator, rule
 * "redact_bodies", note "before=<RFC 3339> bodies=<n>") is recorded first,
 * then the bodies are deleted in durable transactions of a few thousand
 * each; an interrupted run leaves the event and some bodies, and running it
 * again finishes. A store that applies this log (sg_apply) removes the same
 * bodies when it applies the event: those of the events before it recorded
 * before the cutoff. *count (may be NULL) receives the number removed.
 * before_us later than now is -EINVAL. Read-write engines only.
 */
SG_EXPORT int sg_redact(sg_engine *engine, int64_t before_us, uint64_t *count);

/* Lowercase hex of a 32-byte hash into out (65 bytes). Thread-safe. */
SG_EXPORT void sg_hex32(const uint8_t hash[32], char out[65]);

/* Format UTC µs as RFC 3339 with microseconds ("2026-11-27T16:09:33.123456Z").
 * Thread-safe (gmtime_r). */
SG_EXPORT void sg_time_format(int64_t us, char out[32]);
/* Parse RFC 3339 (Z or offset, optional fraction), "YYYY-MM-DD HH:MM:SS" (UTC)
 * or a bare date into UTC µs; -EINVAL otherwise. Thread-safe. */
SG_EXPORT int sg_time_parse(const char *text, int64_t *ret_us);
/* The wall clock in UTC µs. */
SG_EXPORT int64_t sg_now_us(void);


/* ---- the send ledger --------------------------------------------------- */

/*
 * What the gateway sent, recorded after it sent: so that an audit can show
 * nothing went to a person after their STOP (sg_violations), and so that
 * per-day caps can be counted (sg_send_cap). Sends are kept out of the
 * consent hash chain, compactly (about 20 bytes a send in blocks plus a
 * per-recipient index), and sealed into it: sg_sends_seal() records one
 * SG_ACTION_SENDS event naming the chained SHA-256 of the blocks up to
 * there, so sg_verify() fails on a removed or altered sealed send. A block
 * is sealed by sg_sends_record() once SG_SENDS_SEAL_EVERY sends wait, and
 * by sg_sends_seal() (the daemon calls it on a timer); sends not yet sealed
 * are protected only by the store's own integrity.
 */
typedef enum sg_send_category {
	SG_SEND_UNSPECIFIED = 0,
	SG_SEND_MARKETING = 1,     /* a solicitation: counted by the frequency caps */
	SG_SEND_INFORMATIONAL = 2, /* transactional / account notices: never capped */
} sg_send_category;

typedef enum sg_send_source {
	SG_SEND_REPORTED = 0, /* the gateway's own report (POST /v1/sends, the library) */
	SG_SEND_STATUS = 1,   /* a provider's status callback (sent / delivered) */
} sg_send_source;

#define SG_SENDS_SEAL_EVERY 4096 /* sends waiting that make sg_sends_record seal */
#define SG_SENDS_BATCH_MAX 10000 /* the most sends one sg_sends_record takes */
#define SG_SEND_ID_MAX 256       /* a provider message id's longest length */

/* One send to record. Strings may be NULL (= absent) unless marked. */
typedef struct sg_send_in {
	size_t size;            /* sizeof(sg_send_in) as the caller was compiled */
	const char *id;         /* the provider's message id: a second report of the same
				 * id to the same recipient within 48 h (e.g. a status
				 * callback after the gateway's report) is a duplicate;
				 * NULL: never de-duplicated */
	const char *sender;     /* required: canonical key of our number */
	const char *recipient;  /* required: canonical key of the handset */
	int64_t at_us;          /* when it was sent (UTC µs); 0: now. At most 5 min ahead. */
	const char *campaign;   /* the subject; NULL: the sender's campaign when recorded */
	sg_send_category category;
	sg_send_source source;
} sg_send_in;

typedef struct sg_send_out {
	int status;        /* 0, or the error for this send alone (-EINVAL, SG_ENUMBER, SG_ETOOLONG) */
	bool duplicate;    /* the same id to the same recipient was already recorded */
	uint64_t ordinal;  /* the send's number in the ledger (of the original for duplicates) */
} sg_send_out;

/*
 * Record up to SG_SENDS_BATCH_MAX sends in one durable transaction (with
 * SG_OPEN_DEFER_SYNC: durable as described there). Invalid sends get their
 * own status and do not fail the batch; a store error fails it whole with
 * nothing written. Read-write engines only.
 */
SG_EXPORT int sg_sends_record(sg_engine *engine, const sg_send_in *sends, size_t n, sg_send_out *out);

/* Seal every send not yet sealed: one SG_ACTION_SENDS event (nothing when
 * none waits). *sealed (may be NULL) receives how many sends it covered. */
SG_EXPORT int sg_sends_seal(sg_engine *engine, uint64_t *sealed);

/* A recorded send, as read back; pointers valid only inside the callback. */
typedef struct sg_send {
	uint64_t ordinal;
	int64_t at_us;
	const char *sender, *recipient;
	const char *campaign; /* "" when none was known */
	sg_send_category category;
	sg_send_source source;
	uint64_t id_hash;     /* 64-bit hash of the provider message id, 0: none */
} sg_send;
typedef int (*sg_send_cb)(const sg_send *send, void *ctx);

/* Every send with since_us <= at_us < until_us (0: unbounded), in ledger
 * order. Constant memory; one snapshot per block. */
SG_EXPORT int sg_sends_read(sg_engine *engine, int64_t since_us, int64_t until_us, sg_send_cb cb, void *ctx);

/* The sends to one recipient key at or after after_us, in time order;
 * sender_key NULL: from any sender. For proofs and counting. */
SG_EXPORT int sg_sends_for_pair(sg_engine *engine, const char *sender_key, const char *recipient_key,
				int64_t after_us, sg_send_cb cb, void *ctx);

typedef struct sg_sends_stats {
	uint64_t sends;       /* recorded (pruned ones not counted) */
	uint64_t sealed;      /* the last sealed ordinal */
	uint64_t next;        /* the next ordinal */
	uint64_t blocks;
	uint64_t first_kept;  /* the first ordinal retention kept (1: nothing pruned) */
} sg_sends_stats;
SG_EXPORT int sg_sends_stats_get(sg_engine *engine, sg_sends_stats *out);

/*
 * Retention: remove sealed sends from before before_us, whole seals at a
 * time from the oldest (a seal is removed only when every send it covers
 * is older), after recording an SG_ACTION_SENDS "sends_prune" event naming
 * the first send kept, so that sg_verify() still verifies the rest from
 * the seal before it. *removed (may be NULL) receives how many. The TCPA's
 * limitation period is 4 years: the daemon's default (sendsRetentionDays).
 */
SG_EXPORT int sg_sends_prune(sg_engine *engine, int64_t before_us, uint64_t *removed);

/* One recorded send the check would have denied at its send time. */
typedef struct sg_violation {
	const sg_send *send;
	sg_reason reason;      /* SG_REASON_OPTED_OUT, SG_REASON_CAMPAIGN_INACTIVE,
				* SG_REASON_FREQUENCY_CAP (more reasons may be added) */
	uint64_t seq;          /* the event that made it one (the opt-out, the campaign
				* change); 0 for a cap */
	sg_scope_kind scope;   /* opted_out: the scope that decided */
	const char *scope_id;
	int64_t since_us;      /* when that state began; a cap: the first send counted */
	unsigned count;        /* a cap: sends counted in the 24 h before it, this one included */
	const char *rule;      /* a cap: "FL", "OK", "MD" or "maxPerDay"; else NULL */
} sg_violation;
typedef int (*sg_violation_cb)(const sg_violation *v, void *ctx);

/*
 * Every recorded send with since_us <= at_us < until_us (0: unbounded) that
 * the check would have denied when it was sent: the recipient opted out at
 * a scope enclosing the sender (as the consent log stood at that time),
 * the campaign known and not ACTIVE then, or a frequency cap exceeded. The
 * one allowed confirmation (the first send from that sender within the
 * policy's confirmation window after the opt-out) is not a violation.
 * Constant memory in the number of sends; reads each recipient's history.
 */
SG_EXPORT int sg_violations(sg_engine *engine, int64_t since_us, int64_t until_us, sg_violation_cb cb,
			    void *ctx);

/* A frequency cap as it applies to one send. */
typedef struct sg_cap_result {
	bool exceeded;            /* another send now would exceed it */
	unsigned count;           /* sends counted in the rolling 24 h before at_us */
	unsigned limit;           /* 0: no cap applies */
	int64_t next_allowed_at_us; /* with exceeded: when the oldest counted send leaves the window */
	char rule[16];            /* "FL", "OK", "MD", "maxPerDay"; "" when none */
} sg_cap_result;

/*
 * Would one more marketing send from sender_key to recipient_key on
 * campaign_id (NULL: the sender's campaign; the subject) at at_us (0: now)
 * exceed a cap? The state rule (FL, OK, MD: 3 per rolling 24 h per
 * subject) applies to a NANP recipient whose area code is in that state;
 * the campaign's "stopgate": {"maxPerDay": n} applies everywhere (the
 * stricter wins). Informational sends are never capped. The count is over
 * every sender of the subject. A recipient outside those states with no
 * maxPerDay costs no store read.
 */
SG_EXPORT int sg_send_cap(sg_engine *engine, const char *sender_key, const char *recipient_key,
			  const char *campaign_id, sg_send_category category, int64_t at_us,
			  sg_cap_result *out);

/* "marketing", "informational", "unspecified"; parse: -EINVAL otherwise. */
SG_EXPORT const char *sg_send_category_name(sg_send_category c);
SG_EXPORT int sg_send_category_parse(const char *name, sg_send_category *ret);

#ifdef __cplusplus
}
#endif
#endif /* STOPGATE_H */
