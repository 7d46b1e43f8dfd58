import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/http/app";
import { base64url } from "../../src/http/ui/session";
import { parseHtml } from "./console-helpers";
import { countRows, postMessage, TEST_CONFIG, unique, useConfig } from "./helpers";

const AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  jwk: JsonWebKey & { kid: string };
}

async function keyPair(kid = unique("kid")): Promise<KeyPair> {
  const pair = (await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { kid, privateKey: pair.privateKey, jwk: { ...jwk, kid, alg: "RS256", use: "sig" } };
}

const json = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));

async function jwt(
  key: KeyPair,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: "RS256", kid: key.kid, typ: "JWT" },
): Promise<string> {
  const signingInput = `${json(header)}.${json(claims)}`;
  const signature = await crypto.subtle.sign(
    "RSASSA-PKCS1-v1_5",
    key.privateKey,
    new TextEncoder().encode(signingInput),
  );
  return `${signingInput}.${base64url(signature)}`;
}

/** A team of its own per test (the certs cache is per team domain), its certs served by a fetch fake. */
function accessDesk(keys: KeyPair[], certsStatus = 200) {
  const domain = `${unique("team")}.cloudflareaccess.test`;
  const certsCalls: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === `https://${domain}/cdn-cgi/access/certs`) {
      certsCalls.push(url);
      return certsStatus === 200
        ? Response.json({ keys: keys.map((k) => k.jwk), public_cert: { kid: keys[0]?.kid, cert: "…" } })
        : new Response("unavailable", { status: certsStatus });
    }
    return new Response(null, { status: 204 });
  });
  const deskEnv = { ...env, ACCESS_TEAM_DOMAIN: domain, ACCESS_AUD: AUD };
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    aud: [AUD],
    email: "ann@example.com",
    exp: now + 600,
    iat: now,
    nbf: now,
    iss: `https://${domain}`,
    sub: "7335d417-61da-459d-899c-0a01c76812cd",
    type: "app",
    identity_nonce: "6ei69kawdKzMIAPF",
    country: "US",
  };
  return {
    domain,
    claims,
    certsCalls,
    fetch: (path: string, token?: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      if (token !== undefined) headers.set("cf-access-jwt-assertion", token);
      return app.request(`https://desk.test${path}`, { ...init, headers, redirect: "manual" }, deskEnv);
    },
  };
}

beforeEach(async () => {
  await useConfig({
    ...TEST_CONFIG,
    agents: [...TEST_CONFIG.agents, { id: "ann", name: "Ann Agent", email: "ann@example.com" }],
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("Cloudflare Access in front of the console", () => {
  it("accepts a valid Access JWT and names the agent by the configured email", async () => {
    const key = await keyPair();
    const desk = accessDesk([key]);
    const response = await desk.fetch("/queue", await jwt(key, desk.claims));
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("Signed in as <strong>ann</strong>");
    expect(desk.certsCalls).toHaveLength(1);
    // Keys are cached: a second request does not fetch the certs again.
    expect((await desk.fetch("/metrics", await jwt(key, desk.claims))).status).toBe(200);
    expect(desk.certsCalls).toHaveLength(1);
    // An identity the configuration does not know is named by its email.
    const other = await desk.fetch("/queue", await jwt(key, { ...desk.claims, email: "zed@example.com" }));
    expect(await other.text()).toContain("Signed in as <strong>zed@example.com</strong>");
  });

  it("finds a rotated key by refetching the certs", async () => {
    const oldKey = await keyPair();
    const newKey = await keyPair();
    const keys = [oldKey];
    const desk = accessDesk(keys);
    expect((await desk.fetch("/queue", await jwt(oldKey, desk.claims))).status).toBe(200);
    keys.push(newKey);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 60_000);
    try {
      const response = await desk.fetch("/queue", await jwt(newKey, desk.claims));
      expect(response.status).toBe(200);
      expect(desk.certsCalls).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  const refusals: [
    string,
    (k: KeyPair, c: Record<string, unknown>, other: KeyPair) => Promise<string | undefined>,
    string,
  ][] = [
    ["no token at all", async () => undefined, "missing"],
    ["a token that is not a JWT", async () => "not.a.jwt", "malformed"],
    ["an expired token", (k, c) => jwt(k, { ...c, exp: Math.floor(Date.now() / 1000) - 120 }), "expired"],
    [
      "a token for another application",
      (k, c) => jwt(k, { ...c, aud: ["someone-elses-aud"] }),
      "wrong audience",
    ],
    [
      "a token from another team",
      (k, c) => jwt(k, { ...c, iss: "https://evil.cloudflareaccess.com" }),
      "wrong issuer",
    ],
    [
      "a token not valid yet",
      (k, c) => jwt(k, { ...c, nbf: Math.floor(Date.now() / 1000) + 3600 }),
      "not yet valid",
    ],
    [
      "a signature by another key under the same kid",
      (k, c, other) => jwt({ ...other, kid: k.kid }, c),
      "bad signature",
    ],
    ["a key id the team does not have", (_k, c, other) => jwt(other, c), "unknown key"],
    ["alg none", async (k, c) => `${json({ alg: "none", kid: k.kid })}.${json(c)}.`, "unsupported alg"],
    [
      "HS256 keyed with the public key",
      async (k, c) => {
        const input = `${json({ alg: "HS256", kid: k.kid })}.${json(c)}`;
        const hmac = await crypto.subtle.importKey(
          "raw",
          new TextEncoder().encode(JSON.stringify(k.jwk)),
          { name: "HMAC", hash: "SHA-256" },
          false,
          ["sign"],
        );
        return `${input}.${base64url(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(input)))}`;
      },
      "unsupported alg",
    ],
    [
      "a tampered payload",
      async (k, c) => {
        const token = await jwt(k, c);
        const [h, , s] = token.split(".");
        return `${h}.${json({ ...c, email: "admin@example.com" })}.${s}`;
      },
      "bad signature",
    ],
  ];

  it.each(refusals)("refuses %s", async (_name, makeToken, reason) => {
    const key = await keyPair();
    const other = await keyPair();
    const desk = accessDesk([key]);
    const response = await desk.fetch("/queue", await makeToken(key, desk.claims, other));
    expect(response.status).toBe(403);
    const text = await response.text();
    expect(text).toContain("Sign in through Cloudflare Access");
    expect(text).toContain(reason);
    expect(text).not.toContain("Signed in as");
  });

  it("refuses everything when the certs cannot be fetched", async () => {
    const key = await keyPair();
    const desk = accessDesk([key], 500);
    const response = await desk.fetch("/queue", await jwt(key, desk.claims));
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("certs unavailable");
  });

  it("replaces token sign-in, and still checks CSRF on every form", async () => {
    const key = await keyPair();
    const desk = accessDesk([key]);
    const token = await jwt(key, desk.claims);
    const login = await desk.fetch("/login");
    expect(await login.text()).toContain("signs agents in with Cloudflare Access");
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const tokenSignIn = await desk.fetch("/login", undefined, {
      method: "POST",
      headers: form,
      body: new URLSearchParams({ token: "test-token-alice" }),
    });
    expect(tokenSignIn.status).toBe(404);
    expect(tokenSignIn.headers.getSetCookie()).toEqual([]);

    const { body } = await postMessage({ text: "access desk ticket" });
    const ticket = body.ticket as string;
    const page = await parseHtml(await (await desk.fetch(`/tickets/${ticket}`, token)).text());
    const csrf = page.inputValue("_csrf");
    const before = await countRows("messages");
    const post = (fields: Record<string, string>, jwtToken: string | null = token) =>
      desk.fetch(`/tickets/${ticket}/replies`, jwtToken ?? undefined, {
        method: "POST",
        headers: form,
        body: new URLSearchParams(fields),
      });
    expect((await post({ text: "no csrf", internal: "true" })).status).toBe(403);
    expect((await post({ text: "forged", internal: "true", _csrf: "forged" })).status).toBe(403);
    expect((await post({ text: "no jwt", internal: "true", _csrf: csrf }, null)).status).toBe(403);
    expect(await countRows("messages")).toBe(before);
    const ok = await post({ text: "a note from ann", internal: "true", _csrf: csrf });
    expect(ok.status).toBe(303);
    const after = await (await desk.fetch(`/tickets/${ticket}`, token)).text();
    expect(after).toContain("ann — internal note");

    const logout = await desk.fetch("/logout", token, {
      method: "POST",
      headers: form,
      body: new URLSearchParams({ _csrf: csrf }),
    });
    expect(logout.headers.get("location")).toBe(`https://${desk.domain}/cdn-cgi/access/logout`);
  });
});
