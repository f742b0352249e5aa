// SPDX-License-Identifier: Apache-2.0
'use strict';
// Per-check benchmark of the Node binding: Engine.check on a store (read
// only) over bench_check's query pool (check_paths.txt), in rounds; prints
// one JSON line. usage: node bench.js STORE check_paths.txt [checks] [rounds]
const fs = require('node:fs');
const { Engine } = require('.');

const [dir, queries, checksArg, roundsArg] = process.argv.slice(2);
const checks = Number(checksArg || 1e6);
const rounds = Number(roundsArg || 10);
const pairs = fs.readFileSync(queries, 'utf8').split('\n').filter(Boolean).map((line) => {
  const q = new URL(line, 'http://x').searchParams;
  return [q.get('from'), q.get('to')];
});
const perRound = Math.max(1, Math.floor(checks / rounds));
const sg = new Engine(dir);
for (let i = 0; i < 10000; i++) sg.check(...pairs[i % pairs.length]);
const ns = [];
let denied = 0;
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < perRound; i++) {
    const p = pairs[i % pairs.length];
    if (!sg.check(p[0], p[1]).allow) denied++;
  }
  ns.push(Number(process.hrtime.bigint() - t0) / perRound);
}
sg.close();
ns.sort((a, b) => a - b);
const median = ns.length % 2 ? ns[(ns.length - 1) / 2] : (ns[ns.length / 2 - 1] + ns[ns.length / 2]) / 2;
console.log(JSON.stringify({ binding: 'node', checks: perRound * rounds, rounds,
  ns_median: Math.round(median * 10) / 10, ns_best: Math.round(ns[0] * 10) / 10,
  denied_share: Math.round((denied / (perRound * rounds)) * 1e4) / 1e4 }));
