// SPDX-License-Identifier: Apache-2.0
'use strict';
// The Node binding against a real store made by the real stopgate binary.
const test = require('node:test');
const assert = require('node:assert/strict');
const cp = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const sg = require('..');

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = process.env.STOPGATE_BIN || path.join(ROOT, 'build', 'engine', 'stopgate');
const KW = process.env.SG_KEYWORDS || path.join(ROOT, 'keywords');
const SENDER = '+14155550100';
const OUT = '+14155552671';
const OTHER = '+14155552672';
const GLOBAL = '+442071838750';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-node-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(dir, ...args) {
  return cp.execFileSync(BIN, [...args, '--data', dir, '--keywords', KW], { encoding: 'utf8' });
}
let n = 0;
function store() {
  const d = path.join(tmp, `s${n++}`);
  run(d, 'init');
  run(d, 'optout', SENDER, OUT);
  run(d, 'optout', '--scope', 'global', '-', GLOBAL);
  return d;
}
const STORE = store();

test('an opted-out pair is denied with the library\'s names', () => {
  const e = new sg.Engine(STORE);
  const v = e.check(SENDER, '(415) 555-2671');
  assert.equal(v.allow, false);
  assert.equal(v.reason, 'opted_out');
  assert.equal(v.scope, 'sender');
  assert.equal(v.scopeId, SENDER);
  assert.equal(v.seq, 1);
  assert.ok(Math.abs(v.since - Date.now()) < 86400e3);
  assert.ok(Object.isFrozen(v));
  assert.equal(e.check('+14155550199', GLOBAL).scope, 'global');
  e.close();
});

test('a pair without record is allowed, junk is denied, not thrown', () => {
  const e = new sg.Engine(STORE);
  const a = e.check(SENDER, OTHER);
  assert.equal(a.allow, true);
  assert.equal(a.reason, null);
  assert.equal(e.check(SENDER, 'not a number').reason, 'invalid_number');
  assert.equal(e.check(SENDER, OUT, 'optout_confirm').allow, false); // read-only never grants it
  assert.equal(e.check(SENDER, OUT, { purpose: 'help_reply' }).allow, false);
  assert.throws(() => e.check(SENDER, OUT, 'marketing'), { code: 'EINVAL' });
  assert.throws(() => e.check(SENDER, 42), TypeError);
  e.close();
});

const FLORIDA = '+13055550123';               // Miami (305): US-FL, America/New_York
const QH = path.join(ROOT, 'quiet-hours');      // this checkout's rules, not whatever is installed
const NIGHT = new Date('2026-12-02T03:00:00Z'); // 22:00 EST on Dec 1 in Miami

test('a marketing check at a quiet hour is held until the window opens', () => {
  const e = new sg.Engine(STORE, { quietHoursDir: QH });
  const v = e.check(SENDER, FLORIDA, { category: 'marketing', at: NIGHT });
  assert.equal(v.allow, false);
  assert.equal(v.reason, 'quiet_hours');
  assert.equal(v.category, 'marketing');
  assert.equal(v.region, 'US-FL');
  assert.equal(v.tz, 'America/New_York');
  assert.deepEqual(v.nextAllowedAt, new Date('2026-12-02T13:00:00Z')); // 8:00 EST
  assert.equal(v.nextAllowedUs, Date.parse('2026-12-02T13:00:00Z') * 1000);
  assert.match(v.rule, /^us-fl\.qh/);
  assert.ok(Object.isFrozen(v));
  // the same instant as an RFC 3339 string; a batch is one call, in order
  assert.deepEqual(e.check(SENDER, FLORIDA, { category: 'marketing', at: '2026-12-01T22:00:00-05:00' }), v);
  const b = e.checkBatch(SENDER, [FLORIDA, OTHER, OUT], { category: 'marketing', at: NIGHT });
  assert.deepEqual(b[0], v);
  // 19:00 in San Francisco is inside California's hours; the opt-out still comes first
  assert.equal(b[1].allow, true);
  assert.equal(b[1].region, 'US-CA');
  assert.equal(b[1].nextAllowedAt, null);
  assert.equal(b[2].reason, 'opted_out');
  assert.equal(b[2].rule, '');
  e.close();
});

test('an informational check at the same hour is allowed', () => {
  const e = new sg.Engine(STORE, { quietHoursDir: QH });
  const v = e.check(SENDER, FLORIDA, { category: 'informational', at: NIGHT });
  assert.equal(v.allow, true);
  assert.equal(v.reason, null);
  assert.equal(v.category, 'informational');
  assert.equal(v.region, 'US-FL');
  assert.equal(v.nextAllowedAt, null);
  assert.equal(v.rule, '');
  // no option but the purpose: the plain check, no category fields
  assert.equal(e.check(SENDER, FLORIDA, { purpose: 'message' }).category, undefined);
  e.close();
});

// The binding records no sends: bindings/testdata/record_sends.py records
// them through the library (sg_sends_record), as a gateway's report would.
test('a fourth marketing send in a day to Florida is capped, per campaign', () => {
  const d = store();
  cp.execFileSync('python3', [path.join(ROOT, 'bindings', 'testdata', 'record_sends.py'), d, SENDER, FLORIDA,
    'CAMP001', '2026-11-03T14:00:00Z', '2026-11-03T15:00:00Z', '2026-11-03T16:00:00Z'], { encoding: 'utf8' });
  const e = new sg.Engine(d, { quietHoursDir: QH });
  const noon = '2026-11-03T17:00:00Z'; // 12:00 EST: not quiet
  const v = e.check(SENDER, FLORIDA, { category: 'marketing', at: noon, campaign: 'CAMP001' });
  assert.equal(v.reason, 'frequency_cap');
  assert.equal(v.rule, 'FL');
  assert.deepEqual(v.nextAllowedAt, new Date('2026-11-04T14:00:00Z')); // the first send + 24 h
  assert.deepEqual(e.checkBatch(SENDER, [FLORIDA], { category: 'marketing', at: noon, campaign: 'CAMP001' })[0], v);
  assert.equal(e.check(SENDER, FLORIDA, { category: 'marketing', at: noon, campaign: 'CAMP002' }).allow, true);
  assert.equal(e.check(SENDER, FLORIDA, { category: 'informational', at: noon, campaign: 'CAMP001' }).allow, true);
  e.close();
});

test('a bad category or time is refused naming what is allowed', () => {
  const e = new sg.Engine(STORE, { quietHoursDir: QH });
  assert.throws(() => e.check(SENDER, FLORIDA, { category: 'promo', at: NIGHT }),
    { code: 'EINVAL', message: /"promo": one of marketing, informational, transactional, conversational/ });
  assert.throws(() => e.checkBatch(SENDER, [FLORIDA], { category: 'promo' }), { code: 'EINVAL', message: /category/ });
  assert.throws(() => e.check(SENDER, FLORIDA, { category: 'marketing', at: '2026-12-02 03:00' }),
    { code: 'EINVAL', message: /RFC 3339/ });
  assert.deepEqual(sg.CATEGORIES, ['marketing', 'informational', 'transactional', 'conversational']);
  e.close();
});

test('a batch is one verdict per recipient, in order', () => {
  const e = new sg.Engine(STORE);
  const vs = e.checkBatch(SENDER, [OTHER, OUT, '', 'junk', GLOBAL]);
  assert.deepEqual(vs.map((v) => v.reason), [null, 'opted_out', 'invalid_number', 'invalid_number', 'opted_out']);
  assert.deepEqual(e.checkBatch(SENDER, []), []);
  assert.throws(() => e.checkBatch(SENDER, [OTHER, 7]), TypeError);
  e.close();
});

test('classify names the intent, rule and reply', () => {
  const e = new sg.Engine(STORE, { keywordsDir: KW });
  const c = e.classify('STOP');
  assert.equal(c.intent, 'opt_out');
  assert.equal(c.confidence, 'exact');
  assert.equal(c.lang, 'en');
  assert.ok(c.rule && c.reply);
  assert.equal(e.classify('see you at 5').intent, 'none');
  assert.throws(() => e.classify(Buffer.from([0xff, 0xfe, 0x20, 0x73])), { code: 'SG_EUTF8' });
  e.close();
});

test('normalize and its errors', () => {
  assert.equal(sg.normalize('(415) 555-2671', 'us'), '+14155552671');
  assert.equal(sg.normalize('MyBrand', null, 'address'), 'aid:mybrand');
  assert.equal(sg.countryOf('+442071838750'), 'GB');
  assert.equal(sg.countryOf('aid:x'), null);
  assert.throws(() => sg.normalize('4155552671'), { code: 'SG_ENOCOUNTRY', errno: -999 });
  assert.throws(() => sg.normalize('hello there'), { code: 'SG_ENUMBER' });
  assert.throws(() => sg.normalize('4155552671', 'USA'), { code: 'EINVAL' });
  assert.match(sg.version(), /^\d+\.\d+\.\d+$/);
});

test('Engine.normalize uses the engine\'s default country', () => {
  const e = new sg.Engine(STORE, { defaultCountry: 'GB' });
  assert.equal(e.defaultCountry, 'GB');
  assert.equal(e.normalize('020 7183 8750'), '+442071838750');
  assert.equal(e.normalize('(415) 555-2671', 'US'), '+14155552671');
  e.close();
  const f = new sg.Engine(STORE);
  assert.throws(() => f.normalize('020 7183 8750'), { code: 'SG_ENOCOUNTRY' });
  f.close();
});

test('open errors carry the library\'s code and text', () => {
  assert.throws(() => new sg.Engine(path.join(tmp, 'none')), (e) =>
    e.code === 'SG_ENOSTORE' && /stopgate init/.test(e.message) && e.message.includes(tmp));
  const d = path.join(tmp, 'new');
  const w = new sg.Engine(d, { readonly: false, create: true });
  assert.equal(w.readonly, false);
  // another process cannot write while this one holds the writer lock
  assert.throws(() => run(d, 'optout', SENDER, OUT), /in use/);
  const r = new sg.Engine(d);
  assert.equal(r.check(SENDER, OUT).allow, true);
  r.close();
  w.close();
  assert.throws(() => new sg.Engine(d, { create: true }), { code: 'EINVAL' });
});

test('a reader sees an opt-out recorded after it opened', () => {
  const d = path.join(tmp, 'live');
  run(d, 'init');
  const e = new sg.Engine(d);
  assert.equal(e.check(SENDER, OTHER).allow, true);
  run(d, 'optout', SENDER, OTHER);
  assert.equal(e.check(SENDER, OTHER).reason, 'opted_out');
  e.close();
});

test('a closed engine refuses calls', () => {
  const e = new sg.Engine(STORE);
  e.close();
  e.close();
  assert.throws(() => e.check(SENDER, OUT), { code: 'ERR_CLOSED' });
  assert.throws(() => e.classify('STOP'), { code: 'ERR_CLOSED' });
});

test('the README example runs as written', () => {
  const text = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(text)[1];
  assert.ok(code.trim().split('\n').length <= 10);
  const want = [...code.matchAll(/console\.log\(.*?\/\/\s*(.*)$/gm)].map((m) => m[1].trim());
  const file = path.join(tmp, 'example.js');
  fs.writeFileSync(file, code.replace('/var/lib/stopgate', STORE).replace("require('stopgate')",
    `require(${JSON.stringify(path.join(__dirname, '..'))})`));
  const out = cp.execFileSync(process.execPath, [file], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n'), want);
});
