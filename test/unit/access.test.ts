import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { callbackSigningKey, signatureHeaders } from "../../src/channels/api/sign";
import { agentNames, callbackUrlRefusal, parseApiTokens, permits } from "../../src/domain/access";

describe("API_TOKENS entries", () => {
  it.each([
    ["alice:tok", [{ name: "alice", token: "tok", role: "agent" }]],
    ["alice:tok:agent", [{ name: "alice", token: "tok", role: "agent" }]],
    ["root:tok:admin", [{ name: "root", token: "tok", role: "admin" }]],
    ["acme-monitor:tok:integration", [{ name: "acme-monitor", token: "tok", role: "integration" }]],
    [
      " alice : a , bob:b:admin ,, ",
      [
        { name: "alice", token: "a", role: "agent" },
        { name: "bob", token: "b", role: "admin" },
      ],
    ],
  ])("%j", (raw, expected) => {
    expect(parseApiTokens(raw)).toEqual(expected);
  });

  it.each([
    ["a role that is not one", "alice:tok:superuser"],
    ["a misspelt role", "alice:tok:admn"],
    ["an empty role", "alice:tok:"],
    ["four parts", "alice:tok:admin:extra"],
    ["no token", "alice:"],
    ["no name", ":tok"],
    ["no colon", "alice"],
  ])("ignores %s, with a warning, and keeps the rest", (_, entry) => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(parseApiTokens(`${entry},bob:b`)).toEqual([{ name: "bob", token: "b", role: "agent" }]);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });
});

describe("who may do what", () => {
  const plain = parseApiTokens("alice:a,acme:i:integration");
  const withAdmin = parseApiTokens("alice:a,root:r:admin,acme:i:integration");
  const table = [
    ["agent", "post_message", true, true],
    ["agent", "agent_api", true, true],
    ["agent", "console", true, true],
    ["agent", "change_config", true, false],
    ["admin", "post_message", true, true],
    ["admin", "agent_api", true, true],
    ["admin", "console", true, true],
    ["admin", "change_config", true, true],
    ["integration", "post_message", true, true],
    ["integration", "agent_api", false, false],
    ["integration", "console", false, false],
    ["integration", "change_config", false, false],
  ] as const;
  it.each(table)("%s → %s: desk without admins %s, with an admin %s", (role, action, plainOk, adminOk) => {
    expect(permits(role, action, plain).ok).toBe(plainOk);
    expect(permits(role, action, withAdmin).ok).toBe(adminOk);
  });

  it("integrations are never agents", () => {
    expect(agentNames(withAdmin)).toEqual(["alice", "root"]);
  });
});

describe("callbackUrl", () => {
  it.each([
    ["https://hooks.acme.com/cb", undefined, null],
    ["https://hooks.acme.com/cb", ["hooks.acme.com"], null],
    ["https://HOOKS.acme.com:8443/cb", ["hooks.ACME.com"], null],
    [
      "https://hooks.acme.com.evil.test/cb",
      ["hooks.acme.com"],
      "not one of this integration's callbackHosts",
    ],
    ["https://hooks.acme.com@evil.test/cb", ["hooks.acme.com"], "host evil.test is not one"],
    ["https://evil.test/cb", [], "(none)"],
    ["http://hooks.acme.com/cb", undefined, "must be https"],
    ["javascript:alert(1)", undefined, "must be https"],
    ["http://localhost:3000/cb", undefined, null],
    ["http://127.0.0.1/cb", undefined, null],
    ["http://[::1]/cb", undefined, null],
    ["http://localhost.evil.test/cb", undefined, "must be https"],
    ["not a url", undefined, "not a URL"],
  ])("%s with %j", (url, hosts, problem) => {
    const refusal = callbackUrlRefusal(url, hosts);
    if (problem === null) expect(refusal).toBeNull();
    else expect(refusal).toContain(problem);
  });
});

describe("Standard Webhooks signing in Node (Web Crypto)", () => {
  it("reproduces the scheme's published test vector", async () => {
    const key = await callbackSigningKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    if (!key.ok) throw new Error(key.reason);
    expect(
      await signatureHeaders(key.key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'),
    ).toEqual({
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
  });

  it("what we sign, the standardwebhooks library verifies (unicode body included)", async () => {
    const secret = `whsec_${Buffer.from("a 32-byte key for this one test!").toString("base64")}`;
    const key = await callbackSigningKey(secret);
    if (!key.ok) throw new Error(key.reason);
    const body = JSON.stringify({ ticket: "SUP-9", kind: "reply", text: "Grüße — fixed ✅\nline two" });
    const headers = await signatureHeaders(key.key, "msg_abc", Date.now() / 1000, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });
});
