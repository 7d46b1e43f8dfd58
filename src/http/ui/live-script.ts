/**
 * The live console's page script (SPEC §15), inline with the page's CSP nonce like the countdown
 * script. Progressive enhancement only: every page works without it exactly as before.
 *
 * - Local time: every `<time data-local>` (server text: UTC) shows the browser's own zone, with the
 *   UTC time in its `title`; countdowns get the local due time in their `title`.
 * - Live updates: `<body data-live="queue|ticket:SUP-12">` opens `/live` (a WebSocket signed in by
 *   the session cookie). An event names only a ticket and a kind of change; the page then fetches
 *   itself again over the console's own routes and swaps in the fresh server-rendered, escaped
 *   parts (DOMParser + importNode; no customer text ever passes through innerHTML or a string).
 * - Presence: the ticket page shows the other agents on it and who is writing; typing in the reply
 *   or note box sends a small typing signal.
 * - Collision: the reply form's hidden `ifLastMessageId` follows new messages only while the reply
 *   box is empty; once the agent has started writing it stays at what they had seen, so the server
 *   refuses a reply written without the newest message (and the page says so at once).
 * - Keyboard shortcuts, documented on each page.
 */
export const LIVE_SCRIPT = `(() => {
  const doc = document;
  const $ = (sel, root) => (root || doc).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || doc).querySelectorAll(sel));
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const local = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" });
  const utc = (d) => d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const localise = (root) => {
    for (const t of $$("time[data-local]", root)) {
      const d = new Date(t.dateTime);
      if (Number.isNaN(d.getTime())) continue;
      t.textContent = local.format(d);
      t.title = utc(d);
    }
    for (const t of $$("time[data-countdown]", root)) {
      const d = new Date(t.dateTime);
      if (!Number.isNaN(d.getTime())) t.title = "due " + local.format(d) + " (" + utc(d) + ")";
    }
  };
  localise(doc);
  for (const z of $$("[data-zone]")) z.textContent = "times in your time zone, " + zone + " (UTC in each time's tooltip)";

  const view = doc.body.dataset.live;
  const me = doc.body.dataset.agent || "";
  const typingIn = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  // ---- keyboard shortcuts ----
  const rows = () => $$("#queue-live tbody tr[data-ticket]");
  let cursor = -1;
  const focusRow = (i) => {
    const list = rows();
    if (list.length === 0) return;
    cursor = Math.max(0, Math.min(list.length - 1, i));
    const link = $("td.subject a", list[cursor]);
    if (link) link.focus();
  };
  doc.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
    const go = (fn) => { e.preventDefault(); fn(); };
    if (view === "queue") {
      if (e.key === "j") return go(() => focusRow(cursor + 1));
      if (e.key === "k") return go(() => focusRow(cursor - 1));
      if (e.key === "x") return go(() => { const r = rows()[cursor]; const box = r && $("input[type=checkbox]", r); if (box) box.checked = !box.checked; });
      if (e.key === "o") return go(() => { const r = rows()[cursor]; const link = r && $("td.subject a", r); if (link) link.click(); });
      if (e.key === "m") return go(() => { const link = $("#view-mine"); if (link) link.click(); });
      if (e.key === "/") return go(() => { const q = $("#q"); if (q) q.focus(); });
    } else if (view) {
      if (e.key === "r") return go(() => { const t = $("#reply-text"); if (t) t.focus(); });
      if (e.key === "n") return go(() => { const t = $("#note-text"); if (t) t.focus(); });
      if (e.key === "u") return go(() => { location.href = "/queue"; });
    }
  });
  if (!view || !("WebSocket" in window)) return;

  // ---- live updates ----
  const status = $("#live-status");
  const say = (text) => { if (status) status.textContent = text; };
  let timer = 0, busy = false, again = false;
  const parse = async () => {
    // A ticket page may be the answer to a POST (a refused reply): fetch the ticket's own page.
    const url = view === "queue" ? location.pathname + location.search : "/tickets/" + encodeURIComponent(view.slice(7));
    const res = await fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } });
    if (!res.ok || res.redirected) throw new Error("refresh failed: " + res.status);
    // Our own page's <style> and <script> (constants, never customer text, which is escaped) carry
    // that response's nonce: left in, the inert parsed copy would report a CSP violation.
    const html = (await res.text()).replace(/<style[^>]*>[\\s\\S]*?<\\/style>|<script[^>]*>[\\s\\S]*?<\\/script>/g, "");
    return new DOMParser().parseFromString(html, "text/html");
  };
  const swap = (id, fresh) => {
    const old = doc.getElementById(id);
    const next = fresh.getElementById(id);
    if (!old || !next) return null;
    const node = doc.importNode(next, true);
    old.replaceWith(node);
    localise(node);
    return node;
  };
  const refreshQueue = async (fresh) => {
    const before = new Set(rows().map((r) => r.dataset.ticket));
    const checked = new Set($$("#queue-live input[name=ticket]:checked").map((b) => b.value));
    const active = doc.activeElement && doc.activeElement.closest && doc.activeElement.closest("tr[data-ticket]");
    const focusKey = active ? active.dataset.ticket : null;
    const bulk = $("#bulk-assignee");
    const assignee = bulk ? bulk.value : null;
    swap("queue-live", fresh);
    for (const b of $$("#queue-live input[name=ticket]")) b.checked = checked.has(b.value);
    const bulkAfter = $("#bulk-assignee");
    if (bulkAfter && assignee !== null) bulkAfter.value = assignee;
    for (const r of rows()) if (!before.has(r.dataset.ticket)) r.classList.add("fresh");
    if (focusKey) { const i = rows().findIndex((r) => r.dataset.ticket === focusKey); if (i >= 0) focusRow(i); }
  };
  const lastId = () => { const li = $$("#conversation > li[data-message-id]").pop(); return li ? li.dataset.messageId : ""; };
  const refreshTicket = async (fresh) => {
    const list = $("#conversation");
    const have = new Set($$("#conversation > li[data-message-id]").map((li) => li.dataset.messageId));
    const added = [];
    for (const li of $$("#conversation > li[data-message-id]", fresh)) {
      if (have.has(li.dataset.messageId)) continue;
      const node = doc.importNode(li, true);
      node.classList.add("fresh");
      list.appendChild(node);
      localise(node);
      added.push(node);
    }
    for (const id of ["ticket-badges", "sla-card", "history-section", "improvements-section"]) swap(id, fresh);
    const owner = $("#owner-card");
    if (owner && !owner.contains(doc.activeElement)) swap("owner-card", fresh);
    const seen = $("#reply-last-id");
    const text = $("#reply-text");
    if (seen && (!text || text.value.trim() === "")) seen.value = lastId();
    else if (added.length > 0 && seen && seen.value !== lastId()) {
      const news = added.filter((n) => { const a = $("article", n); return a && a.dataset.kind !== "system"; });
      const notice = $("#live-notice");
      if (notice && news.length > 0) {
        const who = Array.from(new Set(news.map((n) => { const a = $(".author", n); return a ? a.textContent : "someone"; })));
        notice.hidden = false;
        notice.textContent = "While you were writing, " + news.length + " new message" + (news.length === 1 ? "" : "s") +
          " arrived (from " + who.join(", ") + "). Read " + (news.length === 1 ? "it" : "them") +
          " above: sending now will ask you to confirm.";
      }
    }
  };
  const refresh = async () => {
    if (busy) { again = true; return; }
    // Not under an agent choosing a bulk assignee: try again once they are done.
    const picking = $("#bulk-assignee");
    if (picking && picking === doc.activeElement) { clearTimeout(timer); timer = setTimeout(refresh, 1000); return; }
    busy = true;
    try {
      const fresh = await parse();
      if (view === "queue") await refreshQueue(fresh); else await refreshTicket(fresh);
      say("Live: up to date at " + local.format(new Date()));
    } catch (err) {
      say("Live: could not refresh (" + err.message + "); reload the page to see the latest.");
    } finally {
      busy = false;
      if (again) { again = false; schedule(); }
    }
  };
  const schedule = () => { clearTimeout(timer); timer = setTimeout(refresh, 120); };

  // ---- presence ----
  const presence = $("#presence");
  const showPresence = (viewers) => {
    if (!presence) return;
    const others = viewers.filter((v) => v.agent !== me);
    presence.textContent = "";
    presence.hidden = others.length === 0;
    if (others.length === 0) return;
    presence.append("Also on this ticket: ");
    others.forEach((v, i) => {
      if (i > 0) presence.append(", ");
      const name = doc.createElement("strong");
      name.textContent = v.agent;
      presence.append(name);
      if (v.composing) {
        const what = doc.createElement("span");
        what.className = "typing";
        what.textContent = v.composing === "reply" ? " (writing a reply…)" : " (writing a note…)";
        presence.append(what);
      }
    });
  };

  let ws = null, retry = 1000, pinger = 0, opened = false;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(scheme + "//" + location.host + "/live?view=" + encodeURIComponent(view));
    ws.addEventListener("open", () => {
      retry = 1000;
      say("Live: connected");
      doc.body.dataset.liveState = "open";
      if (opened) schedule();
      opened = true;
      clearInterval(pinger);
      pinger = setInterval(() => { if (ws.readyState === 1) ws.send("ping"); }, 30000);
      if (composing) sendTyping(composing);
    });
    ws.addEventListener("message", (e) => {
      if (e.data === "pong") return;
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.type === "changed") schedule();
      else if (m.type === "presence") showPresence(m.viewers || []);
    });
    ws.addEventListener("close", () => {
      doc.body.dataset.liveState = "closed";
      clearInterval(pinger);
      say("Live: reconnecting…");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  };

  // ---- typing signal ----
  let composing = null, idle = 0, lastSent = 0;
  const sendTyping = (what) => {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "typing", composing: what }));
    lastSent = Date.now();
  };
  const typed = (what) => {
    if (composing !== what || Date.now() - lastSent > 4000) sendTyping(what);
    composing = what;
    clearTimeout(idle);
    idle = setTimeout(() => { composing = null; sendTyping(null); }, 6000);
  };
  for (const [id, what] of [["reply-text", "reply"], ["note-text", "note"]]) {
    const box = doc.getElementById(id);
    if (box) box.addEventListener("input", () => typed(what));
  }
  for (const form of $$("form.public, form.internal")) {
    form.addEventListener("submit", () => { clearTimeout(idle); composing = null; sendTyping(null); });
  }
  connect();
})();`;
