import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { rereadQuarantined } from "../../channels/registry";
import {
  addImprovement,
  BULK_MAX_TICKETS,
  type BulkAction,
  bulkPatchTickets,
  escalateTicket,
  patchTicket,
  promoteQuarantined,
  replyToTicket,
} from "../../commands";
import { agentNames, permits } from "../../domain/access";
import type { PolicyName } from "../../domain/config";
import { CHANNELS } from "../../domain/inbound";
import { promiseTimeZone, wallClockInZone } from "../../domain/promise";
import { knowledgeBaseTerms, SEARCH_MAX_QUERY_CHARS } from "../../domain/search";
import { clockPausedUntil } from "../../domain/sla";
import { parseTicketKey } from "../../domain/ticket";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import { topRootCauses } from "../../store/improvements";
import { searchKnowledgeBase } from "../../store/knowledge-base";
import { computeMetrics } from "../../store/metrics";
import { computeTrend } from "../../store/metrics-trend";
import { listQuarantine } from "../../store/quarantine";
import { getTicketRow, getTicketView, queuePage, ticketSummary } from "../../store/tickets";
import { callerForToken, parseApiTokens } from "../auth";
import {
  clientIp,
  failedSignIn,
  publicRateLimit,
  RATE_LIMIT_PERIOD_SECONDS,
  retryAfterHeader,
  SIGN_IN_LOCKED_DETAIL,
  signInLocked,
} from "../rate-limit";
import { attachmentsApp } from "../routes/attachments";
import { publicQualityEnabled, qualityReport, waitUntilOf } from "../routes/quality";
import { quarantinedView } from "../routes/quarantine";
import { decodeCursor, encodeCursor, parseStatuses } from "../routes/tickets";
import {
  escalationInputSchema,
  improvementInputSchema,
  replySchema,
  ticketListQuerySchema,
  ticketPatchSchema,
} from "../schemas";
import { accessConfig } from "./access";
import {
  type ConsoleContext,
  type ConsoleEnv,
  consoleHeaders,
  identify,
  messagePage,
  nonceOf,
  optionalConsoleAgent,
  render,
  requireConsoleAgent,
  requireCsrf,
} from "./auth";
import { safeNext } from "./format";
import { liveUpgrade } from "./live";
import { KnowledgeBaseArticle, KnowledgeBasePage } from "./pages/kb";
import { LoginPage } from "./pages/login";
import { MetricsPage } from "./pages/metrics";
import { QualityPage } from "./pages/quality";
import { QuarantinePage } from "./pages/quarantine";
import { type QueueFilters, QueuePage } from "./pages/queue";
import { TicketPage, type TicketPageProps } from "./pages/ticket";
import {
  createSession,
  LOGIN_COOKIE,
  LOGIN_TTL_SECONDS,
  randomToken,
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  sameSecret,
  sessionKey,
} from "./session";

/**
 * The largest valid form is a reply of 64 Ki UTF-16 units; a browser percent-encodes a 3-byte
 * UTF-8 character as 9 bytes, so such a reply in, say, Japanese is 576 KiB on the wire.
 */
export const MAX_FORM_BYTES = 640 * 1024;
const DAY_MS = 86_400_000;

const COOKIE_BASE = { httpOnly: true, secure: true, sameSite: "Strict", path: "/" } as const;

/** Messages after POST-redirect-GET, by code: nothing a URL carries is ever shown as-is. */
const DONE: Record<string, string> = {
  reply: "Reply sent to the customer.",
  note: "Internal note added.",
  updated: "Ticket updated.",
  improvement: "Improvement linked.",
  engineering: "Escalated to engineering: a Linear issue was filed and linked.",
  incident: "Incident declared: on-call is being paged.",
  promoted:
    "Ticket opened from the quarantined mail: its clock started when the mail arrived; no acknowledgement was sent.",
};
const ERRORS: Record<string, string> = {
  invalid_reply: "Write something before sending (at most 64 KiB).",
  invalid_next_update:
    "The next update must be a time at least a minute and at most 90 days away (nothing was sent).",
  resolved_promise: "A resolved ticket owes no update: reopen it to promise one (nothing was sent).",
  invalid_update: "That change is not valid.",
  unknown_team: "That team is not in the routing configuration.",
  conflict: "The ticket changed while you were saving; check it and try again.",
  security_disclosure:
    "This ticket is security-sensitive: tick the box to confirm you mean to disclose it before making it public.",
  invalid_improvement: "An improvement needs a kind, a title and, if given, an http(s) link.",
  invalid_escalation: "Unknown escalation.",
  linear_not_configured:
    "Cannot escalate to engineering: Linear is not configured (LINEAR_API_KEY and the team's linearTeamId).",
  linear_failed: "Linear did not create the issue; nothing was recorded. Try again.",
  invalid_linear_issue: "Name a Linear issue by its identifier (ENG-12) or its URL.",
  linear_lookup_not_configured: "Cannot link a Linear issue: Linear is not configured (LINEAR_API_KEY).",
  linear_issue_not_found: "Linear has no such issue; nothing was linked.",
  linear_lookup_failed: "Linear did not answer; nothing was linked. Try again.",
};

/**
 * The agent console: server-rendered pages over the same services as the JSON API. Every path is
 * named explicitly (no `*` middleware), so mounting this at "/" never touches `/v1`, `/healthz`,
 * `/openapi.json`, `/survey` or `/webhooks`.
 */
export const uiApp = new Hono<ConsoleEnv>();

// Hono's "/x/*" also matches "/x": one registration each, so a middleware runs once per request.
for (const path of [
  "/",
  "/login",
  "/logout",
  "/queue/*",
  "/tickets/*",
  "/metrics",
  "/quarantine/*",
  "/kb/*",
  "/quality/*",
]) {
  uiApp.use(path, consoleHeaders);
}
for (const path of ["/logout", "/queue/*", "/tickets/*", "/metrics", "/quarantine/*", "/attachments/*"]) {
  uiApp.use(path, requireConsoleAgent);
}
// The knowledge base is public: a budget per client address (rate-limit.ts, README "Limits").
const kbLimit = publicRateLimit<ConsoleEnv>("kb", (c) =>
  messagePage(
    c,
    429,
    "Too many requests",
    <p>
      This address sent too many requests in the last minute. Please try again in {RATE_LIMIT_PERIOD_SECONDS}{" "}
      seconds.
    </p>,
  ),
);
// "/kb/*" also matches "/kb": registered once, so a request is counted once.
uiApp.use("/kb/*", kbLimit);
uiApp.use("/kb/*", optionalConsoleAgent);
// SPEC §16: the public quality page shares one budget with GET /v1/quality.
uiApp.use(
  "/quality/*",
  publicRateLimit<ConsoleEnv>("quality", (c) =>
    messagePage(
      c,
      429,
      "Too many requests",
      <p>
        This address sent too many requests in the last minute. Please try again in{" "}
        {RATE_LIMIT_PERIOD_SECONDS} seconds.
      </p>,
    ),
  ),
);
const formLimit = bodyLimit({
  maxSize: MAX_FORM_BYTES,
  onError: (c) =>
    messagePage(
      c,
      413,
      "Form too large",
      <p>
        The form was over {MAX_FORM_BYTES / 1024} KiB, so nothing was changed. A reply may be at most 64 KiB
        of text.
      </p>,
    ),
});
uiApp.post("/login", formLimit);
uiApp.post("/logout", formLimit, requireCsrf);
uiApp.post("/tickets/*", formLimit, requireCsrf);
uiApp.post("/queue/*", formLimit, requireCsrf);
uiApp.post("/quarantine/*", formLimit, requireCsrf);

uiApp.get("/", async (c) => c.redirect((await identify(c)).ok ? "/queue" : "/login", 302));

// The live console's WebSocket (live.ts): signed in like a page, refused without a session.
uiApp.get("/live", liveUpgrade);

// ---- sign-in ---------------------------------------------------------------------------------

uiApp.get("/login", async (c) => {
  const access = accessConfig(c.env);
  const next = safeNext(c.req.query("next"));
  if (access !== null) {
    return render(
      c,
      <LoginPage nonce={nonceOf(c)} loginToken="" next={next} accessTeamDomain={access.issuer} />,
    );
  }
  if ((await sessionKey(c.env)) === null) {
    return render(c, <LoginPage nonce={nonceOf(c)} loginToken="" next={next} unconfigured />, 503);
  }
  if ((await identify(c)).ok) return c.redirect(next, 302);
  return render(c, <LoginPage nonce={nonceOf(c)} loginToken={loginToken(c)} next={next} />);
});

/** The sign-in form's double-submit token: a random value in a SameSite=Strict cookie and the form. */
function loginToken(c: ConsoleContext): string {
  const existing = getCookie(c, LOGIN_COOKIE);
  const token = existing !== undefined && /^[A-Za-z0-9_-]{32}$/.test(existing) ? existing : randomToken();
  setCookie(c, LOGIN_COOKIE, token, { ...COOKIE_BASE, maxAge: LOGIN_TTL_SECONDS });
  return token;
}

uiApp.post("/login", async (c) => {
  if (accessConfig(c.env) !== null)
    return messagePage(
      c,
      404,
      "Token sign-in is off",
      <p>This desk signs agents in with Cloudflare Access.</p>,
    );
  const key = await sessionKey(c.env);
  if (key === null) return c.redirect("/login", 303);
  const form = await c.req.parseBody();
  const field = (name: string) => (typeof form[name] === "string" ? form[name] : "");
  const next = safeNext(field("next"));
  const cookie = getCookie(c, LOGIN_COOKIE) ?? "";
  if (cookie === "" || field("_csrf") === "" || !(await sameSecret(cookie, field("_csrf")))) {
    return render(
      c,
      <LoginPage
        nonce={nonceOf(c)}
        loginToken={loginToken(c)}
        next={next}
        error="The sign-in form expired or came from elsewhere. Please sign in again."
      />,
      403,
    );
  }
  // A wrong token is a failed sign-in (rate-limit.ts): past the budget, every attempt from that
  // address is refused before its token is judged.
  const ip = clientIp(c.req.header("cf-connecting-ip"));
  const locked = () => {
    for (const [name, value] of Object.entries(retryAfterHeader())) c.header(name, value);
    return render(
      c,
      <LoginPage nonce={nonceOf(c)} loginToken={loginToken(c)} next={next} error={SIGN_IN_LOCKED_DETAIL} />,
      429,
    );
  };
  if (signInLocked(ip, Date.now())) return locked();
  const tokens = parseApiTokens(c.env.API_TOKENS);
  const caller = field("token") === "" ? null : await callerForToken(tokens, field("token"));
  if (caller === null) {
    if (await failedSignIn(c.env, ip, Date.now())) return locked();
    return render(
      c,
      <LoginPage nonce={nonceOf(c)} loginToken={loginToken(c)} next={next} error="Unknown agent token." />,
      401,
    );
  }
  const permission = permits(caller.role, "console", tokens);
  if (!permission.ok) {
    return render(
      c,
      <LoginPage
        nonce={nonceOf(c)}
        loginToken={loginToken(c)}
        next={next}
        error={`That is an integration's token: it cannot sign in to the console. ${permission.detail}`}
      />,
      403,
    );
  }
  setCookie(c, SESSION_COOKIE, await createSession(key, caller.name, Date.now()), {
    ...COOKIE_BASE,
    maxAge: SESSION_TTL_SECONDS,
  });
  deleteCookie(c, LOGIN_COOKIE, { path: "/", secure: true });
  return c.redirect(next, 303);
});

uiApp.get("/logout", (c) =>
  messagePage(
    c,
    200,
    "Sign out",
    <form method="post" action="/logout">
      <input type="hidden" name="_csrf" value={c.var.csrf} />
      <p>Signed in as {c.var.agent}.</p>
      <button type="submit">Sign out</button>
    </form>,
  ),
);

uiApp.post("/logout", (c) => {
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true });
  const access = accessConfig(c.env);
  return c.redirect(access === null ? "/login" : `${access.issuer}/cdn-cgi/access/logout`, 303);
});

// ---- queue -----------------------------------------------------------------------------------

/** SPEC §14: a ticket's clock paused outside its calendar's hours resumes then (ISO), or null. */
function pausedUntilOf(config: Awaited<ReturnType<typeof loadConfig>>, now: number) {
  return (ticket: { policy: PolicyName }): string | null => {
    const until = clockPausedUntil(ticket.policy, now, config);
    return until === null ? null : new Date(until).toISOString();
  };
}

function teamsOf(config: Awaited<ReturnType<typeof loadConfig>>) {
  return config.teams.map((t) => ({ id: t.id, name: t.name }));
}

uiApp.get("/queue", async (c) => {
  const db = database(c.env.DB);
  const raw = c.req.query();
  const filters: QueueFilters = {
    status: raw.status ?? "",
    team: raw.team ?? "",
    channel: raw.channel ?? "",
    priority: raw.priority ?? "",
    breached: raw.breached ?? "",
    q: raw.q ?? "",
  };
  const given = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ""));
  // "Mine": assigned to the signed-in agent (the session's name: the token's, or the Access agent's id).
  const mine = raw.mine === "1";
  const parsed = ticketListQuerySchema.safeParse({ ...given, ...(mine ? { assignee: c.var.agent } : {}) });
  const status = parsed.success ? parseStatuses(parsed.data.status) : "invalid";
  const cursor =
    parsed.success && parsed.data.cursor !== undefined ? decodeCursor(parsed.data.cursor) : undefined;
  const config = await loadConfig(db);
  const url = new URL(c.req.url);
  const bulk = BULK_OUTCOMES[raw.bulk ?? ""];
  const common = {
    nonce: nonceOf(c),
    agent: c.var.agent,
    csrf: c.var.csrf,
    filters,
    teams: teamsOf(config),
    now: Date.now(),
    pausedUntil: pausedUntilOf(config, Date.now()),
    mine,
    agents: consoleAgents(c.env, config),
    backHref: `/queue${url.search}`,
    ...(bulk === undefined ? {} : { flash: bulk(raw) }),
  };
  if (!parsed.success || status === "invalid" || cursor === null) {
    return render(
      c,
      <QueuePage
        {...common}
        tickets={[]}
        nextHref={null}
        firstHref="/queue"
        error={
          // A search too long for D1's LIKE says so, with the limit; anything else is a stale link.
          (!parsed.success && parsed.error.issues.find((issue) => issue.path[0] === "q")?.message) ||
          "Those filters are not valid (or the page link is out of date)."
        }
      />,
      400,
    );
  }
  const q = parsed.data;
  const { rows, next } = await queuePage(db, { ...q, status }, cursor);
  const kept = new URLSearchParams(
    Object.entries(given).filter(([k]) => !["cursor", "bulk", "n", "raced"].includes(k)),
  );
  const firstHref = cursor === undefined ? null : `/queue${kept.size > 0 ? `?${kept}` : ""}`;
  let nextHref: string | null = null;
  if (next !== null) {
    const params = new URLSearchParams(kept);
    params.set("cursor", encodeCursor(next.dueAt, next.number));
    nextHref = `/queue?${params}`;
  }
  return render(
    c,
    <QueuePage {...common} tickets={rows.map(ticketSummary)} nextHref={nextHref} firstHref={firstHref} />,
  );
});

/** Who can be assigned: the agents of API_TOKENS and the configured agents (never integrations). */
function consoleAgents(env: Env, config: Awaited<ReturnType<typeof loadConfig>>): string[] {
  return [
    ...new Set([...agentNames(parseApiTokens(env.API_TOKENS)), ...config.agents.map((a) => a.id)]),
  ].sort();
}

/** The queue's message after a bulk action, by code and counts (numbers only: nothing from the URL is echoed). */
const BULK_OUTCOMES: Record<string, (q: Record<string, string>) => { kind: "ok" | "error"; text: string }> = {
  assigned: (q) => ({ kind: "ok", text: `${count(q.n)} ticket(s) assigned.${racedText(q.raced)}` }),
  resolved: (q) => ({
    kind: "ok",
    text: `${count(q.n)} ticket(s) resolved; each customer is sent the survey.${racedText(q.raced)}`,
  }),
  none: () => ({ kind: "error", text: "Select at least one ticket first." }),
  invalid: () => ({ kind: "error", text: "That bulk action is not valid; nothing was changed." }),
};
function count(n: string | undefined): number {
  const value = Number(n);
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}
function racedText(raced: string | undefined): string {
  const n = count(raced);
  return n === 0 ? "" : ` ${n} changed meanwhile and were left as they were: check them and try again.`;
}

uiApp.post("/queue/bulk", async (c) => {
  const form = await c.req.parseBody({ all: true });
  const one = (name: string) => (typeof form[name] === "string" ? form[name] : undefined);
  const backRaw = safeNext(one("back"));
  const backUrl = new URL(backRaw.startsWith("/queue") ? backRaw : "/queue", "https://desk.invalid");
  for (const k of ["bulk", "n", "raced", "cursor"]) backUrl.searchParams.delete(k);
  const to = (params: Record<string, string>) => {
    for (const [k, v] of Object.entries(params)) backUrl.searchParams.set(k, v);
    return c.redirect(`${backUrl.pathname}${backUrl.search}`, 303);
  };
  const raw = form.ticket;
  const keys = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(
    (k): k is string => typeof k === "string",
  );
  const numbers = keys.map(parseTicketKey).filter((n): n is number => n !== null);
  if (numbers.length === 0) return to({ bulk: "none" });
  if (numbers.length > BULK_MAX_TICKETS || numbers.length !== keys.length) return to({ bulk: "invalid" });
  const kind = one("action");
  const assignee = one("assignee") ?? "";
  const config = await loadConfig(database(c.env.DB));
  let action: BulkAction;
  if (kind === "resolve") action = { kind: "resolve" };
  else if (kind === "assign" && (assignee === "" || consoleAgents(c.env, config).includes(assignee)))
    action = { kind: "assign", assignee: assignee === "" ? null : assignee };
  else return to({ bulk: "invalid" });
  const result = await bulkPatchTickets(c.env, numbers, action, c.var.agent);
  return to({
    bulk: action.kind === "resolve" ? "resolved" : "assigned",
    n: String(result.changed.length),
    raced: String(result.raced.length),
  });
});

// ---- one ticket ------------------------------------------------------------------------------

function noTicket(c: ConsoleContext) {
  return messagePage(
    c,
    404,
    "No such ticket",
    <p>
      There is no ticket {c.req.param("key") ?? ""}. <a href="/queue">Back to the queue</a>
    </p>,
  );
}

uiApp.get("/tickets/:key", async (c) => {
  const number = parseTicketKey(c.req.param("key"));
  if (number === null) return noTicket(c);
  const done = DONE[c.req.query("done") ?? ""];
  const error = ERRORS[c.req.query("error") ?? ""];
  return ticketPage(c, number, {
    flash:
      error !== undefined
        ? { kind: "error", text: error }
        : done !== undefined
          ? { kind: "ok", text: done }
          : undefined,
  });
});

async function ticketPage(
  c: ConsoleContext,
  number: number,
  extra: Pick<TicketPageProps, "flash" | "collision">,
  status: 200 | 409 = 200,
) {
  const db = database(c.env.DB);
  const [ticket, config] = await Promise.all([
    getTicketView(db, number, { publicUrl: c.env.PUBLIC_URL ?? "" }),
    loadConfig(db),
  ]);
  if (ticket === null) return noTicket(c);
  // Integrations are not people: they are never offered as an assignee.
  const agents = consoleAgents(c.env, config);
  return render(
    c,
    <TicketPage
      nonce={nonceOf(c)}
      agent={c.var.agent}
      csrf={c.var.csrf}
      ticket={ticket}
      teams={teamsOf(config)}
      agents={agents}
      now={Date.now()}
      timeZone={promiseTimeZone(config, ticket.policy)}
      pausedUntil={ticket.responseDueAt === null ? null : pausedUntilOf(config, Date.now())(ticket)}
      {...extra}
    />,
    status,
  );
}

/** POST-redirect-GET back to the ticket with a message code. */
function back(c: ConsoleContext, key: string, outcome: { done: string } | { error: string }, anchor = "") {
  const query = "done" in outcome ? `done=${outcome.done}` : `error=${outcome.error}`;
  return c.redirect(`/tickets/${key}?${query}${anchor}`, 303);
}

async function formOf(c: ConsoleContext): Promise<(name: string) => string | undefined> {
  const form = await c.req.parseBody();
  return (name) => {
    const value = form[name];
    return typeof value === "string" ? value : undefined;
  };
}

uiApp.post("/tickets/:key", async (c) => {
  const key = c.req.param("key");
  const number = parseTicketKey(key);
  if (number === null) return noTicket(c);
  const field = await formOf(c);
  const patch: Record<string, string | boolean | null> = {};
  for (const name of ["status", "priority", "team", "assignee", "visibility"]) {
    const value = field(name);
    if (value !== undefined) patch[name] = name === "assignee" && value === "" ? null : value;
  }
  // A checkbox: only a deliberate tick makes a security ticket public.
  if (field("confirmSecurityDisclosure") === "true") patch.confirmSecurityDisclosure = true;
  const parsed = ticketPatchSchema.safeParse(patch);
  if (!parsed.success) return back(c, key, { error: "invalid_update" });
  const result = await patchTicket(c.env, number, parsed.data, c.var.agent);
  if (!result.ok) {
    switch (result.reason) {
      case "not_found":
        return noTicket(c);
      case "unknown_team":
        return back(c, key, { error: "unknown_team" });
      case "security_disclosure_unconfirmed":
        return back(c, key, { error: "security_disclosure" }, "#visibility-heading");
      case "conflict":
        return back(c, key, { error: "conflict" });
    }
  }
  return back(c, key, { done: "updated" });
});

/**
 * The console's promise fields: a quick choice (a duration) or "at" with a `datetime-local` in the
 * promise's zone. undefined: no promise; null: "at" without a readable time.
 */
async function nextUpdateOf(
  c: ConsoleContext,
  number: number,
  field: (name: string) => string | undefined,
): Promise<string | undefined | null> {
  const choice = field("nextUpdate") ?? "";
  if (choice === "") return undefined;
  if (choice !== "at") return choice;
  const db = database(c.env.DB);
  const [config, row] = await Promise.all([loadConfig(db), getTicketRow(db, number)]);
  if (row === undefined) return undefined;
  return wallClockInZone(field("nextUpdateAt") ?? "", promiseTimeZone(config, row.policy));
}

uiApp.post("/tickets/:key/replies", async (c) => {
  const key = c.req.param("key");
  const number = parseTicketKey(key);
  if (number === null) return noTicket(c);
  const field = await formOf(c);
  const internal = field("internal") === "true";
  const seen = field("ifLastMessageId");
  const nextUpdateBy = internal ? undefined : await nextUpdateOf(c, number, field);
  if (nextUpdateBy === null) return back(c, key, { error: "invalid_next_update" }, "#respond-heading");
  const parsed = replySchema.safeParse({
    text: field("text") ?? "",
    internal,
    ...(nextUpdateBy === undefined ? {} : { nextUpdateBy }),
    // The public form says which message its page had seen last (collision detection).
    ...(seen === undefined || seen === "" ? {} : { ifLastMessageId: seen }),
  });
  if (!parsed.success) return back(c, key, { error: "invalid_reply" }, "#respond-heading");
  const result = await replyToTicket(
    c.env,
    number,
    parsed.data,
    c.var.agent,
    onceOf(field("idempotencyKey")),
  );
  if (!result.ok) {
    switch (result.reason) {
      case "not_found":
        return noTicket(c);
      case "invalid_next_update":
        return back(c, key, { error: "invalid_next_update" }, "#respond-heading");
      case "resolved":
        return back(c, key, { error: "resolved_promise" }, "#respond-heading");
      case "unknown_message":
        return back(c, key, { error: "conflict" }, "#respond-heading");
      case "stale": {
        const view = await getTicketView(database(c.env.DB), number, { publicUrl: c.env.PUBLIC_URL ?? "" });
        const ids = new Set(result.newer.map((m) => m.id));
        return ticketPage(
          c,
          number,
          { collision: { newer: view?.messages.filter((m) => ids.has(m.id)) ?? [], text: parsed.data.text } },
          409,
        );
      }
    }
  }
  return back(c, key, { done: parsed.data.internal ? "note" : "reply" }, `#msg-${result.messageId}`);
});

uiApp.post("/tickets/:key/improvements", async (c) => {
  const key = c.req.param("key");
  const number = parseTicketKey(key);
  if (number === null) return noTicket(c);
  const field = await formOf(c);
  const url = field("url")?.trim();
  const linear = field("linear")?.trim();
  const parsed = improvementInputSchema.safeParse(
    linear !== undefined
      ? { linear }
      : {
          kind: field("kind"),
          title: field("title") ?? "",
          ...(url === undefined || url === "" ? {} : { url }),
        },
  );
  if (!parsed.success || (parsed.data.url !== undefined && !/^https?:\/\//i.test(parsed.data.url))) {
    return back(c, key, { error: linear === undefined ? "invalid_improvement" : "invalid_linear_issue" });
  }
  const result = await addImprovement(c.env, number, parsed.data, c.var.agent);
  if (!result.ok) {
    switch (result.reason) {
      case "not_found":
        return noTicket(c);
      case "linear_not_configured":
        return back(c, key, { error: "linear_lookup_not_configured" });
      case "linear_not_found":
        return back(c, key, { error: "linear_issue_not_found" });
      case "linear_failed":
        return back(c, key, { error: "linear_lookup_failed" });
    }
  }
  return back(c, key, { done: "improvement" }, "#improvements-heading");
});

uiApp.post("/tickets/:key/escalations", async (c) => {
  const key = c.req.param("key");
  const number = parseTicketKey(key);
  if (number === null) return noTicket(c);
  const field = await formOf(c);
  const issue = field("issue")?.trim();
  const parsed = escalationInputSchema.safeParse({
    to: field("to"),
    ...(issue === undefined || issue === "" ? {} : { issue }),
  });
  if (!parsed.success) {
    return back(c, key, {
      error: issue === undefined || issue === "" ? "invalid_escalation" : "invalid_linear_issue",
    });
  }
  const result = await escalateTicket(c.env, number, parsed.data.to, c.var.agent, {
    ...onceOf(field("idempotencyKey")),
    ...(parsed.data.issue === undefined ? {} : { issue: parsed.data.issue }),
  });
  if (!result.ok) {
    switch (result.reason) {
      case "not_found":
        return noTicket(c);
      case "not_configured":
        return back(c, key, { error: "linear_not_configured" });
      case "issue_not_found":
        return back(c, key, { error: "linear_issue_not_found" });
      case "upstream_failed":
        return back(c, key, { error: "linear_failed" });
    }
  }
  return back(c, key, { done: parsed.data.to }, "#history-heading");
});

/** The form's idempotency key (see `Once` on the ticket page), when it sent a well-formed one. */
function onceOf(value: string | undefined): { idempotencyKey?: string } {
  return value !== undefined && /^[\x21-\x7e]{1,200}$/.test(value) ? { idempotencyKey: value } : {};
}

// Attachment downloads with the console's session (the API's route wants a bearer token).
uiApp.route("/attachments", attachmentsApp);

// ---- metrics ---------------------------------------------------------------------------------

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** How many root causes the metrics page lists. */
const ROOT_CAUSES_SHOWN = 10;

uiApp.get("/metrics", async (c) => {
  const db = database(c.env.DB);
  const now = Date.now();
  const today = day(now);
  const fromText = c.req.query("from") ?? day(now - 29 * DAY_MS);
  const toText = c.req.query("to") ?? today;
  const team = c.req.query("team") ?? "";
  const channelText = c.req.query("channel") ?? "";
  const channel = CHANNELS.find((ch) => ch === channelText);
  let from = DATE.test(fromText) ? Date.parse(`${fromText}T00:00:00Z`) : Number.NaN;
  // `to` is a whole day, inclusive.
  let to = DATE.test(toText) ? Date.parse(`${toText}T00:00:00Z`) + DAY_MS : Number.NaN;
  let error: string | undefined;
  if (Number.isNaN(from) || Number.isNaN(to) || from >= to || (channelText !== "" && channel === undefined)) {
    error =
      "That window is not valid: pick a start date on or before the end date. Showing the last 30 days.";
    to = Date.parse(`${today}T00:00:00Z`) + DAY_MS;
    from = to - 30 * DAY_MS;
  }
  const scope = {
    team: team === "" ? undefined : team.slice(0, 64),
    channel: error === undefined ? channel : undefined,
  };
  const [report, config, rootCauses, trend] = await Promise.all([
    computeMetrics(db, { from, to, now, ...scope }),
    loadConfig(db),
    topRootCauses(db, { from, to, limit: ROOT_CAUSES_SHOWN, ...scope }),
    computeTrend(db, { weeks: 12, now, ...scope }),
  ]);
  const preset = (days: number) => {
    const params = new URLSearchParams({ from: day(now - (days - 1) * DAY_MS), to: today });
    if (team !== "") params.set("team", team);
    if (channel !== undefined) params.set("channel", channel);
    return { label: days === 1 ? "Today" : `Last ${days} days`, href: `/metrics?${params}` };
  };
  return render(
    c,
    <MetricsPage
      nonce={nonceOf(c)}
      agent={c.var.agent}
      csrf={c.var.csrf}
      report={report}
      rootCauses={rootCauses}
      form={{ from: day(from), to: day(to - DAY_MS), team, channel: channel ?? "" }}
      teams={teamsOf(config)}
      presets={[preset(1), preset(7), preset(30), preset(90)]}
      trend={trend}
      error={error}
    />,
    error === undefined ? 200 : 400,
  );
});

// ---- quarantine ------------------------------------------------------------------------------

const QUARANTINE_PAGE = 50;

uiApp.get("/quarantine", async (c) => {
  const beforeText = c.req.query("before");
  const before = beforeText === undefined ? undefined : Number(beforeText);
  const valid = before === undefined || (Number.isSafeInteger(before) && before > 0);
  const rows = await listQuarantine(database(c.env.DB), QUARANTINE_PAGE, valid ? before : undefined);
  const last = rows[rows.length - 1];
  return render(
    c,
    <QuarantinePage
      nonce={nonceOf(c)}
      agent={c.var.agent}
      csrf={c.var.csrf}
      messages={rows.map(quarantinedView)}
      firstHref={before === undefined ? null : "/quarantine"}
      nextHref={
        rows.length === QUARANTINE_PAGE && last !== undefined ? `/quarantine?before=${last.receivedAt}` : null
      }
      flash={
        c.req.query("error") === "not_found"
          ? { kind: "error", text: "That mail is no longer in quarantine." }
          : valid
            ? undefined
            : { kind: "error", text: "That page link is not valid; showing the newest mail." }
      }
    />,
    valid ? 200 : 400,
  );
});

uiApp.post("/quarantine/:id/promote", async (c) => {
  const result = await promoteQuarantined(c.env, c.req.param("id"), (mail) => rereadQuarantined(c.env, mail));
  if (!result.ok) return c.redirect("/quarantine?error=not_found", 303);
  return back(c, result.ticket, { done: "promoted" });
});

// ---- knowledge base (public) -----------------------------------------------------------------

uiApp.get("/kb", async (c) => {
  const q = (c.req.query("q") ?? "").trim();
  const agent = c.var.agent as string | undefined;
  const chrome = { nonce: nonceOf(c), agent, csrf: agent === undefined ? undefined : c.var.csrf };
  if (q.length > SEARCH_MAX_QUERY_CHARS) {
    return render(
      c,
      <KnowledgeBasePage
        {...chrome}
        q={q.slice(0, SEARCH_MAX_QUERY_CHARS)}
        results={null}
        ignored={[]}
        error={`Search for at most ${SEARCH_MAX_QUERY_CHARS} characters.`}
      />,
      400,
    );
  }
  const results = q === "" ? null : await searchKnowledgeBase(database(c.env.DB), q, 20);
  const quality = await publicQualityEnabled(c.env, Date.now());
  return render(
    c,
    <KnowledgeBasePage
      {...chrome}
      q={q}
      results={results}
      ignored={knowledgeBaseTerms(q).ignored}
      qualityLink={quality}
    />,
  );
});

// ---- response quality (public, SPEC §16) ---------------------------------------------------

uiApp.get("/quality", async (c) => {
  const now = Date.now();
  if (!(await publicQualityEnabled(c.env, now))) {
    return messagePage(
      c,
      404,
      "Not published",
      <p>
        This desk does not publish its response quality. <a href="/kb">Search the knowledge base</a>
      </p>,
    );
  }
  const report = await qualityReport(c.env, waitUntilOf(c), new URL(c.req.url).origin, now);
  // The page is the same for everyone: no agent chrome, whoever is signed in.
  return render(c, <QualityPage nonce={nonceOf(c)} report={report} />);
});

uiApp.get("/kb/:key", async (c) => {
  const number = parseTicketKey(c.req.param("key"));
  const ticket =
    number === null
      ? null
      : await getTicketView(database(c.env.DB), number, { publicUrl: c.env.PUBLIC_URL ?? "" });
  // Only what the knowledge base holds: resolved public tickets. Anything else is "not found".
  if (ticket === null || ticket.visibility !== "public" || ticket.status !== "resolved") {
    return messagePage(
      c,
      404,
      "Not in the knowledge base",
      <p>
        <a href="/kb">Search the knowledge base</a>
      </p>,
    );
  }
  const agent = c.var.agent as string | undefined;
  return render(
    c,
    <KnowledgeBaseArticle
      nonce={nonceOf(c)}
      agent={agent}
      csrf={agent === undefined ? undefined : c.var.csrf}
      ticket={ticket}
    />,
  );
});
