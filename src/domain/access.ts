/**
 * SPEC §11 "Who may do what": the roles of `API_TOKENS` and the rules about where an integration
 * may point its callbacks. Pure: the HTTP layer asks, and maps the answers to 403 / 400.
 */

export const ROLES = ["agent", "admin", "integration"] as const;
export type Role = (typeof ROLES)[number];

export interface ApiToken {
  /** Who the token speaks for: the author of replies and changes, and the scope of an integration's ids. */
  name: string;
  token: string;
  role: Role;
}

function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * `API_TOKENS`: comma-separated `name:token` or `name:token:role` entries. An entry with an unknown
 * role, an empty part or more than three parts is ignored (and logged): a typo in a role never
 * turns into a working token with some other role.
 */
export function parseApiTokens(raw: string | undefined): ApiToken[] {
  return (raw ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .flatMap((entry) => {
      const [name = "", token = "", role = "agent", ...rest] = entry.split(":").map((part) => part.trim());
      if (name === "" || token === "" || rest.length > 0) {
        console.warn("API_TOKENS has an entry that is not name:token or name:token:role; ignoring it");
        return [];
      }
      if (!isRole(role)) {
        console.warn(`API_TOKENS: the entry for "${name}" has an unknown role; ignoring it`);
        return [];
      }
      return [{ name, token, role }];
    });
}

/** What a request asks to do, as far as roles are concerned. */
export type Action = "post_message" | "agent_api" | "console" | "change_config";

export type Permission = { ok: true } | { ok: false; detail: string };

/**
 * One rule per role: an integration may only post messages; once the desk has an admin, only admins
 * may change the configuration (a desk without admins keeps the old rule: every agent may).
 */
export function permits(role: Role, action: Action, tokens: readonly ApiToken[]): Permission {
  if (role === "integration") {
    return action === "post_message"
      ? { ok: true }
      : { ok: false, detail: "This token has the role integration, which may only POST /v1/messages." };
  }
  if (action === "change_config" && role !== "admin" && tokens.some((t) => t.role === "admin")) {
    return {
      ok: false,
      detail: `This token has the role ${role}; this desk has admins, and only an admin may change the configuration.`,
    };
  }
  return { ok: true };
}

/** The names that may sign in to the console and be assigned tickets (everyone but integrations). */
export function agentNames(tokens: readonly ApiToken[]): string[] {
  return [...new Set(tokens.filter((t) => t.role !== "integration").map((t) => t.name))];
}

// ---- callbacks ----------------------------------------------------------------------------------

/** Hosts a desk's developer runs receivers on: plain http is allowed there, and only there. */
function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "[::1]" ||
    /^127(\.\d{1,3}){3}$/.test(host)
  );
}

/**
 * Why a `callbackUrl` cannot be used, or null when it can: it must be https (http only on a
 * loopback host, for local development), and when the caller's integration lists `callbackHosts`,
 * its host must be one of them (exactly, ignoring case and port).
 */
export function callbackUrlRefusal(url: string, allowedHosts: readonly string[] | undefined): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "callbackUrl is not a URL";
  }
  const host = parsed.hostname.toLowerCase();
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && isLoopback(host))) {
    return "callbackUrl must be https (plain http only for localhost)";
  }
  if (allowedHosts !== undefined && !allowedHosts.some((allowed) => allowed.toLowerCase() === host)) {
    const listed = allowedHosts.length === 0 ? "none" : allowedHosts.join(", ");
    return `callbackUrl's host ${host} is not one of this integration's callbackHosts (${listed})`;
  }
  return null;
}
