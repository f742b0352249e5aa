// SPDX-License-Identifier: Apache-2.0
// The compliance console in a real headless Chromium (Debian's package),
// driven by playwright-core. Started by tests/integration/test_console_browser.py,
// which runs the real daemon and records the events first; it passes:
//   SG_URL        the daemon's base URL (http://127.0.0.1:PORT)
//   SG_AUDITOR    the auditor token (the compliance officer signs in with it)
//   SG_NUMBER     the recipient that opted out, SG_SENDER the sender it wrote to
//   SG_XSS        the message text (markup) that must show as text
//   SG_SHOTS      where the screenshots go
//   SG_DOCS_SHOT  (optional) also save the look-up page there (docs/console.png)
//   CHROMIUM      the browser executable
// Prints "ok   name" / "FAIL name detail" per case and "cases: N passed, N failed".
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL0 = env("SG_URL"), AUDITOR = env("SG_AUDITOR"), NUMBER = env("SG_NUMBER");
const SENDER = env("SG_SENDER"), XSS = env("SG_XSS"), SHOTS = env("SG_SHOTS");
fs.mkdirSync(SHOTS, { recursive: true });

let passed = 0, failed = 0;
function check(name, cond, detail = "") {
  if (cond) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name} ${detail}`); }
  return cond;
}
async function shot(page, name) {
  const p = path.join(SHOTS, name + ".png");
  await page.screenshot({ path: p, fullPage: true });
  console.log(`screenshot ${p}`);
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  // no network beyond the daemon: Chromium's own background connections off
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const dialogs = [], cspErrors = [], pageErrors = [], requests = [], offOrigin = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
  });
  page.on("request", (r) => {
    requests.push({ url: r.url(), auth: r.headers()["authorization"] || "" });
    if (!r.url().startsWith(URL0) && !r.url().startsWith("blob:") && !r.url().startsWith("data:"))
      offOrigin.push(r.url());
  });

  // ---- sign in ----
  const resp = await page.goto(URL0 + "/console/");
  check("console page loads (200)", resp && resp.status() === 200, resp && resp.status());
  check("CSP header on the page", /script-src 'self'/.test(resp.headers()["content-security-policy"] || ""));
  await shot(page, "01-sign-in");
  await page.getByLabel("Access token", { exact: true }).fill("wrong-token");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "refused" }).waitFor({ timeout: 10000 });
  check("a wrong token is refused", await page.getByLabel("Recipient number").isHidden());
  await page.getByLabel("Access token", { exact: true }).fill(AUDITOR);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByLabel("Recipient number", { exact: true }).waitFor({ state: "visible", timeout: 10000 });
  check("signed in with the auditor token", true);
  check("token kept in sessionStorage, not localStorage",
    await page.evaluate((t) => sessionStorage.getItem("stopgate.console.token") === t && localStorage.length === 0, AUDITOR));

  // ---- look up ----
  await page.getByLabel("Recipient number", { exact: true }).fill(NUMBER);
  await page.getByRole("button", { name: "Look up", exact: true }).click();
  const scopes = page.locator("#r-scopes tbody tr");
  await scopes.first().waitFor({ timeout: 10000 });
  const row = scopes.filter({ hasText: "opted out" }).filter({ hasText: SENDER });
  check("look-up shows 'opted out' with the sender", (await row.count()) >= 1, await scopes.allInnerTexts());
  check("the XSS body shows as text", (await page.locator("#r-scopes").getByText(XSS, { exact: true }).count()) >= 1,
    await scopes.allInnerTexts());
  check("the XSS body made no element", (await page.locator("main img").count()) === 0);
  const evRows = page.locator("#r-events tbody tr");
  check("the event history has the events", (await evRows.count()) >= 2, await evRows.count());
  const hashes = await page.locator("#r-events td.hash").allInnerTexts();
  check("the event history shows hash-chain fields", hashes.length >= 4 && hashes.every((x) => /^[0-9a-f]{64}$/.test(x)),
    JSON.stringify(hashes));
  check("the not-SMS-capable flag is shown", /Not SMS-capable: no/.test(await page.locator("#r-flag").innerText()));
  await shot(page, "02-lookup");
  if (process.env.SG_DOCS_SHOT) {
    await page.locator("#review, #audit").evaluateAll((els) => els.forEach((e) => { e.dataset.was = e.hidden; e.hidden = true; }));
    await page.screenshot({ path: process.env.SG_DOCS_SHOT, fullPage: true });
    await page.locator("#review, #audit").evaluateAll((els) => els.forEach((e) => { e.hidden = e.dataset.was === "true"; }));
    console.log(`screenshot ${process.env.SG_DOCS_SHOT}`);
  }

  // ---- download the proof ----
  const pair = page.locator("#r-pairs tbody tr").filter({ hasText: SENDER });
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 10000 }),
    pair.getByRole("button", { name: "Download proof", exact: true }).click(),
  ]);
  const proofPath = path.join(SHOTS, "proof.json");
  await download.saveAs(proofPath);
  const proof = JSON.parse(fs.readFileSync(proofPath, "utf8"));
  check("downloaded proof is the pair's proof JSON",
    proof.sender === SENDER && proof.recipient === NUMBER && proof.verdict.reason === "opted_out",
    JSON.stringify(proof).slice(0, 300));
  check("proof events carry hashes", proof.events.length >= 1 && proof.events.every((e) => e.hash && e.prev_hash));

  // ---- the printable proof page ----
  await pair.getByRole("button", { name: "Proof page", exact: true }).click();
  await page.locator("#proof").waitFor({ state: "visible", timeout: 10000 });
  const ptext = await page.locator("#proof").innerText();
  check("proof page says it in plain words", /blocks messages from/.test(ptext) && ptext.includes(NUMBER) &&
    ptext.includes(SENDER) && /How to verify this proof/.test(ptext), ptext.slice(0, 400));
  check("proof page quotes what they wrote, as text", ptext.includes(XSS) && (await page.locator("#proof img").count()) === 0);
  check("proof page names the chain head", /chain head\) was [0-9a-f]{64}/.test(ptext));
  await page.emulateMedia({ media: "print" });
  await shot(page, "03-proof-print");
  await page.emulateMedia({ media: "screen" });
  await page.getByRole("button", { name: "Back", exact: true }).click();

  // ---- verify the chain ----
  await page.getByRole("button", { name: "Verify chain", exact: true }).click();
  const vr = page.locator("#verify-result");
  await vr.filter({ hasText: /Chain (verified|broken)/ }).waitFor({ timeout: 20000 });
  const vtext = await vr.innerText();
  const wantEvents = Number(process.env.SG_EVENTS || "0");
  check("Verify chain: 'Chain verified: N events'", new RegExp(`^Chain verified: ${wantEvents} events`).test(vtext), vtext);

  // ---- exports ----
  const [audit] = await Promise.all([
    page.waitForEvent("download", { timeout: 10000 }),
    page.getByRole("button", { name: "Download audit log", exact: true }).click(),
  ]);
  const auditPath = path.join(SHOTS, "audit.csv");
  await audit.saveAs(auditPath);
  const auditCsv = fs.readFileSync(auditPath, "utf8");
  check("audit CSV export downloads", auditCsv.startsWith("seq,") && auditCsv.split("\r\n").length >= wantEvents + 1,
    auditCsv.slice(0, 200));
  await page.getByLabel("From date").fill("2000-01-01");
  await page.getByLabel("Until date (not included)").fill("2000-01-02");
  await page.getByLabel("Format").selectOption("jsonl");
  const [empty] = await Promise.all([
    page.waitForEvent("download", { timeout: 10000 }),
    page.getByRole("button", { name: "Download audit log", exact: true }).click(),
  ]);
  const emptyPath = path.join(SHOTS, "audit-2000.jsonl");
  await empty.saveAs(emptyPath);
  check("the date filter reaches the API", fs.readFileSync(emptyPath, "utf8") === "");
  const [sup] = await Promise.all([
    page.waitForEvent("download", { timeout: 10000 }),
    page.getByRole("button", { name: "Download suppression list", exact: true }).click(),
  ]);
  const supPath = path.join(SHOTS, "optouts.csv");
  await sup.saveAs(supPath);
  const supCsv = fs.readFileSync(supPath, "utf8");
  check("suppression list downloads", supCsv.startsWith("phone_number,") && supCsv.includes(NUMBER), supCsv.slice(0, 300));
  await shot(page, "04-audit");

  // ---- the auditor token cannot change consent (the API refuses) ----
  const refused = await page.evaluate(async ([from, to]) => {
    const t = sessionStorage.getItem("stopgate.console.token");
    const r = await fetch("/v1/consent", {
      method: "POST",
      headers: { Authorization: "Bearer " + t, "Content-Type": "application/json" },
      body: JSON.stringify({ from, to, action: "opt_in", override: "consumer_request", note: "forged" }),
    });
    return { status: r.status, body: await r.json() };
  }, [SENDER, NUMBER]);
  check("the API refuses a change with the auditor token (403)",
    refused.status === 403 && refused.body.error === "read_only_token", JSON.stringify(refused));
  await Promise.all([
    page.waitForResponse((r) => r.url().includes("/v1/recipients/"), { timeout: 10000 }),
    page.getByRole("button", { name: "Look up", exact: true }).click(),
  ]);
  await row.first().waitFor({ timeout: 10000 });
  check("still opted out after the refused change", (await row.count()) >= 1);

  // ---- review queue: only where GET /v1/review answers 200 ----
  const review = await page.evaluate(async () => {
    const r = await fetch("/v1/review?limit=1", { headers: { Authorization: "Bearer " + sessionStorage.getItem("stopgate.console.token") } });
    return r.status;
  });
  if (review === 200) {
    check("review panel shown when the queue exists", await page.getByRole("heading", { name: "Review queue" }).isVisible());
    const card = page.locator("#review-items li").filter({ hasText: process.env.SG_REVIEW_BODY });
    check("the held message is listed, as text", (await card.count()) === 1 && (await page.locator("#review-items b").count()) === 0);
    await page.getByLabel("Your name", { exact: true }).fill("Auditor");
    await card.getByRole("button", { name: "Confirm opt-out", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "read-only" }).waitFor({ timeout: 10000 });
    check("the auditor token cannot resolve a review (403 shown)", true);
    await shot(page, "05-review");
  } else {
    check(`review panel hidden when GET /v1/review answers ${review}`, await page.locator("#review").isHidden());
    console.log(`skip review queue: GET /v1/review answers ${review} (the queue is not in this build)`);
  }

  // ---- security properties seen from the browser ----
  check("no dialog ever opened (no script ran from data)", dialogs.length === 0, JSON.stringify(dialogs));
  check("no CSP violation and no page error", cspErrors.length === 0 && pageErrors.length === 0,
    JSON.stringify({ cspErrors, pageErrors }));
  check("every request stays on the origin", offOrigin.length === 0, JSON.stringify(offOrigin));
  check("the token is never in a URL", requests.every((r) => !r.url.includes(AUDITOR) && !r.url.includes("wrong-token")));
  const apiReqs = requests.filter((r) => r.url.includes("/v1/"));
  check("API requests carry the token as a bearer header",
    apiReqs.length > 0 && apiReqs.every((r) => r.auth === "Bearer " + AUDITOR || r.auth === "Bearer wrong-token"),
    JSON.stringify(apiReqs.slice(0, 3)));

  // ---- a tampered store: Verify chain says where it breaks ----
  if (process.env.SG_BROKEN_URL) {
    const p2 = await context.newPage();
    p2.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    await p2.goto(process.env.SG_BROKEN_URL + "/console/");
    await p2.getByLabel("Access token", { exact: true }).fill(AUDITOR);
    await p2.getByRole("button", { name: "Sign in", exact: true }).click();
    await p2.getByRole("button", { name: "Verify chain", exact: true }).click();
    const br = p2.locator("#verify-result");
    await br.filter({ hasText: /Chain (verified|broken)/ }).waitFor({ timeout: 20000 });
    const btext = await br.innerText();
    check("Verify chain on a tampered log: 'Chain broken at event 2'",
      /^Chain broken at event 2: .*does not match its hash \(1 event verified before it\)/.test(btext), btext);
    await shot(p2, "06-chain-broken");
    await p2.close();
  }

  // ---- sign out forgets the token ----
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  check("sign out forgets the token", await page.evaluate(() => sessionStorage.length === 0) &&
    await page.getByLabel("Access token").isVisible());
} catch (e) {
  failed++;
  console.log(`FAIL exception ${e && e.stack ? e.stack : e}`);
} finally {
  await browser.close();
}
console.log(`cases: ${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
