// SPDX-License-Identifier: Apache-2.0
'use strict';
// stopgate for Node: the pre-send opt-out check of libstopgate in process,
// through an N-API addon (src/addon.c) over include/stopgate.h.
const path = require('node:path');
const fs = require('node:fs');

function loadAddon() {
  const tried = [];
  const candidates = [
    process.env.STOPGATE_NODE_ADDON,
    path.join(__dirname, 'build', 'stopgate.node'),
    path.join(__dirname, '..', '..', 'build', 'bindings', 'stopgate.node'),
    '/usr/lib/stopgate/node/stopgate.node',
  ].filter(Boolean);
  for (const p of candidates) {
    if (fs.existsSync(p)) return require(p);
    tried.push(p);
  }
  throw new Error('stopgate: the addon stopgate.node was not found (tried ' + tried.join(', ') +
    '); build it (see bindings/node/README.md) or set STOPGATE_NODE_ADDON');
}
const native = loadAddon();

const PURPOSES = { message: 0, optout_confirm: 1, help_reply: 2, optin_confirm: 3 };
const FIELDS = { any: 0, address: 1, number: 2 };
const ALLOWED = Object.freeze({
  allow: true, reason: null, scope: null, scopeId: '', since: null, sinceUs: 0, seq: 0, confirmation: false,
});

function purposeCode(p) {
  if (p === undefined || p === null) return 0;
  const c = PURPOSES[p];
  if (c === undefined) {
    const e = new TypeError(`purpose ${JSON.stringify(p)}: one of ${Object.keys(PURPOSES).join(', ')}`);
    e.code = 'EINVAL';
    throw e;
  }
  return c;
}

function verdict(v) {
  if (v === undefined) return ALLOWED;
  v.since = v.sinceUs ? new Date(Math.floor(v.sinceUs / 1000)) : null;
  return Object.freeze(v);
}

// sg_category: the names the library parses; 'none' (or leaving it out)
// lets the sender's campaign's usecase, else the policy, decide.
const CATEGORIES = ['marketing', 'informational', 'transactional', 'conversational'];

function invalid(msg) {
  const e = new TypeError(msg);
  e.code = 'EINVAL';
  return e;
}

function categoryCode(c) {
  if (c === undefined || c === null || c === 'none') return 0;
  const i = CATEGORIES.indexOf(c);
  if (i < 0) {
    throw invalid(`category ${JSON.stringify(c)}: one of ${CATEGORIES.join(', ')} ` +
      "(or leave it out: the sender's campaign's usecase decides)");
  }
  return i + 1;
}

// at: a Date or an RFC 3339 string (with its offset), as µs since the epoch; 0: now
function atUs(at) {
  if (at === undefined || at === null) return 0;
  let ms;
  if (at instanceof Date) ms = at.getTime();
  else if (typeof at === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(at)) {
    ms = Date.parse(at);
  } else {
    throw invalid(`at ${JSON.stringify(at)}: a Date or an RFC 3339 time with its offset, ` +
      "e.g. '2026-12-02T03:00:00Z'");
  }
  if (!Number.isFinite(ms) || ms <= 0) throw invalid(`at ${JSON.stringify(at)} is not a time after 1970`);
  return ms * 1000;
}

function hasEx(opts) {
  return opts.category != null || opts.at != null || opts.campaign != null;
}

function exArgs(opts) {
  const c = opts.campaign;
  if (c != null && (typeof c !== 'string' || c === '')) {
    throw invalid(`campaign ${JSON.stringify(c)}: a campaign id (e.g. 'CAMP001')`);
  }
  return [purposeCode(opts.purpose), categoryCode(opts.category), atUs(opts.at), c == null ? null : c];
}

function verdictEx(v) {
  v.nextAllowedAt = v.nextAllowedUs ? new Date(Math.floor(v.nextAllowedUs / 1000)) : null;
  return verdict(v);
}

/** An open consent store. new Engine(dataDir, {readonly = true, create, keywordsDir, defaultCountry, quietHoursDir}) */
class Engine extends native.Engine {
  /**
   * May `from` send to `to` now? Both raw, normalized by the library.
   * `opts`: a purpose name ('message', 'optout_confirm', 'help_reply',
   * 'optin_confirm') or {purpose, category, at, campaign}: with category,
   * at (a Date or RFC 3339 string) or campaign (the caps' subject) the check
   * is sg_check_ex's, which adds quiet hours and frequency caps.
   * Returns a frozen {allow, reason, scope, scopeId, since, sinceUs, seq,
   * confirmation}; with those options also {category, region, tz,
   * nextAllowedAt, nextAllowedUs, rule}.
   */
  check(from, to, opts) {
    if (opts === undefined || typeof opts === 'string') return verdict(this._check(from, to, purposeCode(opts)));
    if (opts === null || !hasEx(opts)) return verdict(this._check(from, to, purposeCode(opts && opts.purpose)));
    if (typeof to !== 'string') throw new TypeError('check(from, to): to must be a string');
    return verdictEx(this._checkEx(from, [to], ...exArgs(opts))[0]);
  }

  /** One sender, many recipients, one snapshot: a verdict per recipient. */
  checkBatch(from, to, opts) {
    let p = opts;
    if (opts !== undefined && opts !== null && typeof opts !== 'string') {
      if (hasEx(opts)) {
        if (!Array.isArray(to)) throw new TypeError('checkBatch(from, to): to must be an array of strings');
        return this._checkEx(from, to, ...exArgs(opts)).map(verdictEx);
      }
      p = opts.purpose;
    }
    return this._checkBatch(from, to, purposeCode(p)).map(verdict);
  }

  /** normalize() with this engine's default country when none is given. */
  normalize(number, country, field) {
    return normalize(number, country === undefined || country === null ? this.defaultCountry : country, field);
  }
}

/** The canonical key of a number, short code or sender ID; throws SG_ENUMBER / SG_ENOCOUNTRY. */
function normalize(number, country, field) {
  let f = 0;
  if (field !== undefined && field !== null) {
    f = FIELDS[field];
    if (f === undefined) throw new TypeError(`field ${JSON.stringify(field)}: one of any, address, number`);
  }
  return native.normalize(number, country === '' ? null : country, f);
}

module.exports = {
  Engine,
  normalize,
  countryOf: native.countryOf,
  version: native.version,
  strerror: native.strerror,
  PURPOSES: Object.freeze(Object.keys(PURPOSES)),
  CATEGORIES: Object.freeze(CATEGORIES.slice()),
};
