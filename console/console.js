// SPDX-License-Identifier: Apache-2.0
// stopgate compliance console. Everything it shows comes from the public
// HTTP API of the same origin, with the token as a bearer header; the token
// lives in sessionStorage (this tab only) and never in a URL. Every value is
// put on the page with textContent, never parsed as HTML.
"use strict";

(function () {
  const KEY = "stopgate.console.token";
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(KEY) || "";
  let reviewNext = null;

  // ---- small DOM helpers (text only) ----
  function el(tag, opts, kids) {
    const e = document.createElement(tag);
    if (opts) {
      if (opts.text !== undefined && opts.text !== null) e.textContent = String(opts.text);
      if (opts.cls) e.className = opts.cls;
      if (opts.title) e.title = String(opts.title);
      if (opts.type) e.type = opts.type;
      if (opts.label) e.setAttribute("aria-label", String(opts.label));
    }
    for (const k of kids || []) e.appendChild(typeof k === "string" ? document.createTextNode(k) : k);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function status(msg) { $("status").textContent = msg || ""; }
  function showError(msg) {
    const e = $("error");
    e.textContent = msg || "";
    e.hidden = !msg;
  }
  const STATES = { opted_out: "opted out", opted_in: "opted in", none: "no record" };
  const stateText = (s) => STATES[s] || "no record";
  function when(t) {
    if (!t) return "";
    const d = new Date(t);
    return isNaN(d) ? t : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }
  const scopeText = (s) => ({ sender: "sender", group: "sender group", campaign: "campaign",
    brand: "brand", global: "everything (global)" }[s] || s);

  // ---- the API ----
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.detail) || (body && body.error) || ("HTTP " + status));
      this.status = status;
      this.body = body;
    }
  }
  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + token, Accept: "application/json" };
    const init = { method, headers, credentials: "omit", cache: "no-store", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    return r;
  }
  async function apiJson(method, path, body) {
    const r = await api(method, path, body);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }
  async function download(path, filename) {
    const r = await api("GET", path);
    if (!r.ok) {
      let data = null;
      try { data = await r.json(); } catch (e) { data = null; }
      throw new ApiError(r.status, data);
    }
    const blob = await r.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  function failed(what, e) {
    if (e instanceof ApiError && e.status === 401) {
      signOut("The token was refused (401): sign in again.");
      return;
    }
    showError(what + ": " + e.message);
    status("");
  }

  // ---- sign in / out ----
  function signedIn(on) {
    $("signin").hidden = on;
    $("app").hidden = !on;
    $("signout").hidden = !on;
    $("proof").hidden = true;
  }
  function signOut(msg) {
    token = "";
    sessionStorage.removeItem(KEY);
    signedIn(false);
    $("token").value = "";
    showError(msg || "");
    status(msg ? "" : "Signed out.");
  }
  async function signIn(t) {
    token = t;
    showError("");
    status("Signing in…");
    const r = await api("GET", "/metrics").catch((e) => ({ ok: false, status: 0, e }));
    if (!r.ok) {
      token = "";
      showError(r.status === 401 ? "That token was refused. Check it and try again."
        : "Cannot reach stopgate (" + (r.status || (r.e && r.e.message)) + ").");
      status("");
      return;
    }
    sessionStorage.setItem(KEY, t);
    signedIn(true);
    status("Signed in.");
    $("number").focus();
    loadReview(true);
  }

  // ---- look up a number ----
  function pairsOf(data) {
    const senders = new Set();
    for (const s of data.scopes) {
      if (s.scope === "sender") senders.add(s.id);
      if (s.event && s.event.sender) senders.add(s.event.sender);
    }
    for (const ev of data.events) if (ev.sender) senders.add(ev.sender);
    return [...senders].filter((s) => s && !s.startsWith("raw:")).sort();
  }

  function renderRecipient(data) {
    $("r-number").textContent = data.recipient;
    const out = data.scopes.filter((s) => s.state === "opted_out");
    const sum = $("r-summary");
    if (!data.scopes.length) {
      sum.textContent = "no record: stopgate holds no consent state for this number.";
    } else if (out.length) {
      sum.textContent = "opted out at " + out.length + " scope" + (out.length > 1 ? "s" : "") + ": " +
        out.map((s) => scopeText(s.scope) + (s.id ? " " + s.id : "")).join(", ") + ".";
    } else {
      sum.textContent = "Not opted out anywhere (" + data.scopes.length + " scope" +
        (data.scopes.length > 1 ? "s" : "") + " with a record).";
    }
    const f = data.not_sms_capable;
    $("r-flag").textContent = f
      ? "Not SMS-capable: yes, flagged by " + (f.provider || "a provider") + " (code " + (f.code || "?") +
        ") since " + when(f.since) + ", event " + f.seq + "."
      : "Not SMS-capable: no.";

    const tb = $("r-scopes").tBodies[0];
    clear(tb);
    if (!data.scopes.length)
      tb.appendChild(el("tr", null, [el("td", { text: "no record" })]));
    for (const s of data.scopes) {
      const ev = s.event || {};
      let msg = ev.body;
      if (msg === null || msg === undefined)
        msg = ev.body_redacted ? "(text removed by retention)" : ev.note ? "note: " + ev.note : "";
      tb.appendChild(el("tr", null, [
        el("td", { text: scopeText(s.scope) }),
        el("td", { text: s.id || "—" }),
        el("td", { text: stateText(s.state), cls: "state-" + s.state }),
        el("td", { text: when(s.since) }),
        el("td", { text: msg, cls: "body" }),
        el("td", { text: (s.source || "") + (ev.provider ? " via " + ev.provider : "") }),
        el("td", { text: s.seq === null ? "" : "#" + s.seq }),
      ]));
    }

    const pt = $("r-pairs").tBodies[0];
    clear(pt);
    const pairs = pairsOf(data);
    if (!pairs.length)
      pt.appendChild(el("tr", null, [el("td", { text: "no sender has written to or heard from this number" })]));
    for (const sender of pairs) {
      const dl = el("button", { text: "Download proof", type: "button", cls: "secondary" });
      dl.addEventListener("click", () => downloadProof(sender, data.recipient));
      const view = el("button", { text: "Proof page", type: "button", cls: "secondary" });
      view.addEventListener("click", () => showProof(sender, data.recipient));
      pt.appendChild(el("tr", null, [el("td", { text: sender }), el("td", null, [el("div", { cls: "row" }, [dl, view])])]));
    }

    const et = $("r-events").tBodies[0];
    clear(et);
    for (const ev of data.events) {
      let body = ev.body;
      if (body === null) body = ev.body_redacted ? "(text removed by retention)" : ev.note ? "note: " + ev.note : "";
      et.appendChild(el("tr", null, [
        el("td", { text: ev.seq }),
        el("td", { text: when(ev.time) }),
        el("td", { text: ev.action }),
        el("td", { text: ev.source }),
        el("td", { text: ev.scope + (ev.scope_id ? " " + ev.scope_id : "") }),
        el("td", { text: ev.sender || "" }),
        el("td", { text: body, cls: "body" }),
        el("td", { text: ev.rule || "" }),
        el("td", { text: ev.prev_hash, cls: "hash" }),
        el("td", { text: ev.hash, cls: "hash" }),
      ]));
    }
    $("result").hidden = false;
  }

  async function lookUp(number) {
    showError("");
    status("Looking up " + number + "…");
    try {
      const data = await apiJson("GET", "/v1/recipients/" + encodeURIComponent(number));
      renderRecipient(data);
      status("Found " + data.events.length + " event" + (data.events.length === 1 ? "" : "s") + " for " +
        data.recipient + ".");
    } catch (e) {
      $("result").hidden = true;
      failed("Look-up failed", e);
    }
  }

  // ---- proofs ----
  const proofPath = (from, to) => "/v1/consent?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
  const safeName = (s) => s.replace(/[^0-9A-Za-z_-]+/g, "");

  async function downloadProof(from, to) {
    showError("");
    try {
      await download(proofPath(from, to), "stopgate-proof-" + safeName(from) + "-" + safeName(to) + ".json");
      status("Proof for " + from + " → " + to + " downloaded.");
    } catch (e) {
      failed("Proof download failed", e);
    }
  }

  const ACTIONS = {
    opt_out: "an opt-out", opt_in: "an opt-in", help: "a request for help",
    flag_not_sms_capable: "a note that the number cannot receive SMS",
    clear_not_sms_capable: "a note that the number can receive SMS again",
    review: "a message held for review", redact: "the removal of old message texts",
    confirmation_sent: "the opt-out confirmation sent back",
  };
  const SOURCES = {
    keyword: "the person's own text message", provider_signal: "a signal from the SMS provider",
    api: "a call to the stopgate API", operator: "an operator", import: "an import of earlier records",
  };

  function describe(ev) {
    const parts = [];
    parts.push("On " + when(ev.event_time || ev.time) + ", ");
    if (ev.source === "keyword") {
      parts.push("the recipient " + (ev.recipient || "") + " wrote ");
      parts.push(ev.body !== null ? "“" + ev.body + "”" : ev.body_redacted ? "a message (text since removed; its SHA-256 is " + ev.body_sha256 + ")" : "a message");
      parts.push(ev.sender ? " to " + ev.sender : "");
    } else {
      parts.push("stopgate received " + (SOURCES[ev.source] || ev.source));
      if (ev.note) parts.push(" with the note “" + ev.note + "”");
    }
    if (ev.provider) parts.push(", through " + ev.provider + (ev.provider_msg_id ? " (message id " + ev.provider_msg_id + ")" : ""));
    parts.push(". stopgate recorded it as " + (ACTIONS[ev.action] || ev.action));
    if (ev.scope) parts.push(" for the " + scopeText(ev.scope) + (ev.scope_id ? " " + ev.scope_id : ""));
    if (ev.rule) parts.push(" (rule " + ev.rule + ")");
    parts.push(" at " + when(ev.time) + ", as event #" + ev.seq + ".");
    if (ev.reply) parts.push(" It answered: “" + ev.reply + "”.");
    return parts.join("");
  }

  async function showProof(from, to) {
    showError("");
    status("Building the proof…");
    let p, head;
    try {
      p = await apiJson("GET", proofPath(from, to));
      head = await apiJson("GET", "/v1/recipients/" + encodeURIComponent(to));
    } catch (e) {
      failed("Proof failed", e);
      return;
    }
    $("p-intro").textContent = "Consent record of the phone number " + p.recipient + " for messages from " +
      p.sender + ", as held by stopgate.";
    const v = p.verdict;
    $("p-verdict").textContent = v.allow
      ? "Today stopgate would let " + p.sender + " send a message to " + p.recipient + "."
      : "Today stopgate blocks messages from " + p.sender + " to " + p.recipient + ": " +
        (v.reason === "opted_out" ? "the recipient opted out" : v.reason) +
        (v.scope ? " (" + scopeText(v.scope.kind) + (v.scope.id ? " " + v.scope.id : "") + ")" : "") +
        (v.since ? ", since " + when(v.since) : "") + ".";
    const ul = $("p-scopes");
    clear(ul);
    for (const s of p.scopes) {
      ul.appendChild(el("li", {
        text: scopeText(s.scope) + (s.id ? " " + s.id : "") + ": " + stateText(s.state) +
          (s.since ? " since " + when(s.since) + " (event #" + s.seq + ", " + (SOURCES[s.source] || s.source) + ")" : ""),
      }));
    }
    if (p.not_sms_capable)
      ul.appendChild(el("li", { text: "The number was reported as unable to receive SMS since " + when(p.not_sms_capable.since) + "." }));
    const ol = $("p-events");
    clear(ol);
    if (!p.events.length) ol.appendChild(el("li", { text: "No event concerns this sender and number." }));
    for (const ev of p.events) {
      ol.appendChild(el("li", null, [
        el("span", { text: describe(ev), cls: "body" }),
        el("br"),
        el("span", { text: "Hash ", cls: "hint" }), el("code", { text: ev.hash, cls: "hash" }),
        el("span", { text: " — previous hash ", cls: "hint" }), el("code", { text: ev.prev_hash, cls: "hash" }),
      ]));
    }
    $("p-head").textContent = "Every event's hash covers the event before it. When this proof was made the " +
      "log held " + head.head.seq + " events; the last one's hash (the chain head) was " + head.head.hash + ".";
    $("p-generated").textContent = "Generated " + when(new Date().toISOString()) + " by the stopgate compliance console " +
      "from GET /v1/consent and GET /v1/recipients.";
    $("app").hidden = true;
    $("proof").hidden = false;
    status("Proof for " + p.sender + " → " + p.recipient + ".");
    $("proof-h").focus();
  }

  // ---- audit ----
  async function verify() {
    const out = $("verify-result");
    out.textContent = "Verifying…";
    out.className = "";
    try {
      const r = await apiJson("GET", "/v1/verify");
      if (r.ok) {
        out.textContent = "Chain verified: " + r.count + " events (head " + r.head_hash + ")";
        out.className = "ok";
      } else {
        out.textContent = "Chain broken at event " + r.bad_seq + ": " + r.reason + " (" + r.count +
          (r.count === 1 ? " event" : " events") + " verified before it)";
        out.className = "bad";
      }
    } catch (e) {
      out.textContent = "";
      failed("Verification failed", e);
    }
  }
  async function exportAudit() {
    showError("");
    const fmt = $("format").value === "jsonl" ? "jsonl" : "csv";
    const q = new URLSearchParams({ format: fmt });
    if ($("since").value) q.set("since", $("since").value);
    if ($("until").value) q.set("until", $("until").value);
    try {
      await download("/v1/audit?" + q.toString(), "stopgate-audit." + fmt);
      status("Audit log downloaded.");
    } catch (e) {
      failed("Export failed", e);
    }
  }
  async function exportOptouts() {
    showError("");
    const q = new URLSearchParams({ format: "csv" });
    if ($("campaign").value.trim()) q.set("campaign", $("campaign").value.trim());
    try {
      await download("/v1/optouts?" + q.toString(), "stopgate-optouts.csv");
      status("Suppression list downloaded.");
    } catch (e) {
      failed("Export failed", e);
    }
  }

  // ---- review queue (shown only when GET /v1/review answers 200) ----
  function reviewCard(it) {
    const note = el("input", { type: "text", label: "Note for event " + it.event });
    // a probable opt-out, or a probable opt-in (a request to be texted again)
    const optIn = it.intent === "opt_in";
    const yes = el("button", { text: optIn ? "Confirm opt-in" : "Confirm opt-out", type: "button" });
    const no = el("button", { text: optIn ? "Not an opt-in" : "Not an opt-out", type: "button", cls: "secondary" });
    const result = el("output");
    const li = el("li", null, [
      el("dl", null, [
        el("dt", { text: "Event" }), el("dd", { text: "#" + it.event }),
        el("dt", { text: "Received" }), el("dd", { text: when(it.at) }),
        el("dt", { text: "From" }), el("dd", { text: it.from }),
        el("dt", { text: "To" }), el("dd", { text: it.to }),
        el("dt", { text: "Message" }), el("dd", { text: it.body, cls: "body" }),
        el("dt", { text: "Reads as" }), el("dd", { text: it.intent + " (" + it.confidence + ")" + (it.rule ? ", rule " + it.rule : "") }),
        el("dt", { text: "Campaign" }), el("dd", { text: it.campaign || "—" }),
      ]),
      el("div", { cls: "row" }, [el("label", { text: "Note" }), note, yes, no, result]),
    ]);
    note.id = "review-note-" + it.event;
    li.querySelector("label").htmlFor = note.id;
    async function decide(decision) {
      showError("");
      const by = $("reviewer").value.trim();
      if (!by) {
        showError("Enter your name above before deciding.");
        $("reviewer").focus();
        return;
      }
      try {
        const r = await apiJson("POST", "/v1/review/" + encodeURIComponent(it.event),
          { decision, by, note: note.value });
        result.textContent = "Resolved as " + r.decision + " (event #" + r.event + ").";
        yes.disabled = no.disabled = note.disabled = true;
      } catch (e) {
        if (e.status === 409) result.textContent = "Already resolved.";
        else if (e.status === 403) showError("This token is read-only: it cannot resolve reviews.");
        else failed("Review failed", e);
      }
    }
    yes.addEventListener("click", () => decide(optIn ? "opt_in" : "opt_out"));
    no.addEventListener("click", () => decide("none"));
    return li;
  }
  async function loadReview(fresh) {
    const q = new URLSearchParams({ limit: "50" });
    if (!fresh && reviewNext !== null) q.set("after", String(reviewNext));
    let r;
    try {
      r = await api("GET", "/v1/review?" + q.toString());
    } catch (e) {
      $("review").hidden = true;
      return;
    }
    if (r.status !== 200) {
      $("review").hidden = true; // no review queue in this stopgate (404) or not allowed
      return;
    }
    const data = await r.json();
    const list = $("review-items");
    if (fresh) clear(list);
    for (const it of data.items || []) list.appendChild(reviewCard(it));
    reviewNext = data.next === undefined ? null : data.next;
    $("review-more").hidden = reviewNext === null;
    $("review-empty").hidden = list.children.length > 0;
    $("review").hidden = false;
  }

  // ---- wiring ----
  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", (e) => {
      e.preventDefault();
      signIn($("token").value.trim());
    });
    $("signout").addEventListener("click", () => signOut());
    $("lookup-form").addEventListener("submit", (e) => {
      e.preventDefault();
      lookUp($("number").value.trim());
    });
    $("verify").addEventListener("click", verify);
    $("export-form").addEventListener("submit", (e) => { e.preventDefault(); exportAudit(); });
    $("optouts-form").addEventListener("submit", (e) => { e.preventDefault(); exportOptouts(); });
    $("review-more").addEventListener("click", () => loadReview(false));
    $("proof-back").addEventListener("click", () => {
      $("proof").hidden = true;
      $("app").hidden = false;
    });
    $("proof-print").addEventListener("click", () => window.print());
    $("proof-h").tabIndex = -1;
    if (token) signIn(token);
    else $("token").focus();
  });
})();
