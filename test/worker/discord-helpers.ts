import { DISCORD_TEST_PRIVATE_JWK } from "../fixtures/discord-test-key";
import { request } from "./helpers";

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

let signingKey: Promise<CryptoKey> | undefined;

/** Ed25519 over timestamp + body, as Discord signs, with the fixed test key (or another one). */
export async function discordSignature(timestamp: string, body: string, key?: CryptoKey): Promise<string> {
  signingKey ??= crypto.subtle.importKey("jwk", DISCORD_TEST_PRIVATE_JWK, { name: "Ed25519" }, false, [
    "sign",
  ]);
  const signature = await crypto.subtle.sign(
    { name: "Ed25519" },
    key ?? (await signingKey),
    encoder.encode(timestamp + body),
  );
  return hex(signature);
}

export async function postDiscord(
  payload: unknown,
  options: { body?: string; signature?: string | null; timestamp?: string | null; key?: CryptoKey } = {},
) {
  const body = options.body ?? JSON.stringify(payload);
  const timestamp =
    options.timestamp === undefined ? String(Math.floor(Date.now() / 1000)) : options.timestamp;
  const headers = new Headers({
    "content-type": "application/json",
    "user-agent": "Discord-Interactions/1.0",
  });
  if (timestamp !== null) headers.set("x-signature-timestamp", timestamp);
  const signature =
    options.signature === undefined
      ? await discordSignature(timestamp ?? "", body, options.key)
      : options.signature;
  if (signature !== null) headers.set("x-signature-ed25519", signature);
  const response = await request("/webhooks/discord", { method: "POST", headers, body, token: null });
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return { response, status: response.status, body: json };
}

/**
 * The docs' modal samples are JSONC: `//` comments (outside strings), a
 * `...additionalInteractionFields` placeholder and trailing commas. Strip those and parse.
 */
export function parseJsonc(text: string): Record<string, unknown> {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
      out += ch;
    } else if (ch === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else {
      out += ch;
    }
  }
  const cleaned = out.replace(/^\s*\.\.\.\w+,?\s*$/gm, "").replace(/,(\s*[}\]])/g, "$1");
  return JSON.parse(cleaned) as Record<string, unknown>;
}
