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

function notSupported(opts) {
  const what = ['category', 'at'].filter((k) => opts[k] !== undefined && opts[k] !== null);
  if (!what.length) return;
  const e = new Error(`check: ${what.join(' and ')}: libstopgate ${native.version()} has no check by ` +
    'category or time (quiet hours); leave them out or upgrade the library');
  e.code = 'ENOTSUP';
  throw e;
}

/** An open consent store. new Engine(dataDir, {readonly = true, create, keywordsDir, defaultCountry}) */
class Engine extends native.Engine {
  /**
   * May `from` send to `to` now? Both raw, normalized by the library.
   * `opts`: a purpose name ('message', 'optout_confirm', 'help_reply',
   * 'optin_confirm') or {purpose, category, at}; category and at (quiet
   * hours) throw ENOTSUP until the library's check takes them.
   * Returns a frozen {allow, reason, scope, scopeId, since, sinceUs, seq, confirmation}.
   */
  check(from, to, opts) {
    if (opts === undefined || typeof opts === 'string') return verdict(this._check(from, to, purposeCode(opts)));
    notSupported(opts);
    return verdict(this._check(from, to, purposeCode(opts.purpose)));
  }

  /** One sender, many recipients, one snapshot: a verdict per recipient. */
  checkBatch(from, to, opts) {
    let p = opts;
    if (opts !== undefined && typeof opts !== 'string') {
      notSupported(opts);
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
};
