import { env } from "cloudflare:workers";
import worker from "../../src/index";

export function corpusEmail(name: string): Uint8Array {
  const base64 = env.EMAIL_CORPUS[name];
  if (base64 === undefined) throw new Error(`no corpus email ${name}`);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

export function corpusEmailNames(): string[] {
  return Object.keys(env.EMAIL_CORPUS).filter((n) => n.endsWith(".eml"));
}

export interface Delivered {
  rejected: string | null;
}

/**
 * Run the Worker's real `email()` handler on a raw RFC 5322 message, the way Email Routing does:
 * envelope sender and recipient, the raw stream, and setReject.
 */
export async function deliverEmail(
  raw: string | Uint8Array,
  envelope: { from?: string; to?: string } = {},
): Promise<Delivered> {
  const bytes = typeof raw === "string" ? new TextEncoder().encode(raw.replace(/\r?\n/g, "\r\n")) : raw;
  let rejected: string | null = null;
  const message = {
    from: envelope.from ?? "sender@example.org",
    to: envelope.to ?? "support@example.com",
    raw: new Response(bytes).body as ReadableStream<Uint8Array>,
    rawSize: bytes.byteLength,
    headers: new Headers(),
    setReject(reason: string) {
      rejected = reason;
    },
    forward: () => Promise.reject(new Error("not used")),
    reply: () => Promise.reject(new Error("not used")),
  } as unknown as ForwardableEmailMessage;
  const handler = worker.email;
  if (handler === undefined) throw new Error("the worker has no email handler");
  await handler(message, env);
  return { rejected };
}

let counter = 0;
export function mail(fields: {
  from?: string;
  to?: string;
  subject?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
  body?: string;
  contentType?: string;
}): { raw: string; messageId: string } {
  counter += 1;
  const messageId = fields.messageId ?? `m${Date.now()}.${counter}@customer.example`;
  const lines = [
    `From: ${fields.from ?? "Ann <ann@example.org>"}`,
    `To: ${fields.to ?? "support@example.com"}`,
    `Subject: ${fields.subject ?? "Help with exports"}`,
    `Message-ID: <${messageId}>`,
    "Date: Thu, 26 Nov 2026 10:00:00 +0000",
    ...(fields.inReplyTo === undefined ? [] : [`In-Reply-To: <${fields.inReplyTo}>`]),
    ...(fields.references === undefined
      ? []
      : [`References: ${fields.references.map((r) => `<${r}>`).join(" ")}`]),
    ...Object.entries(fields.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    "MIME-Version: 1.0",
    `Content-Type: ${fields.contentType ?? "text/plain; charset=utf-8"}`,
    "",
    fields.body ?? "The export button spins forever.",
    "",
  ];
  return { raw: lines.join("\r\n"), messageId };
}
