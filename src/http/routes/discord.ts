import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { interactionSchema } from "../../channels/discord/normalise";
import { verifyDiscordSignature } from "../../channels/discord/verify";
import { handleDiscordInteraction } from "../../services/discord";
import { problem, zodIssues } from "../errors";
import { MAX_WEBHOOK_BODY_BYTES } from "./github";

/** `POST /webhooks/discord`: the app's Interactions Endpoint URL. */
export const discordApp = new Hono<{ Bindings: Env }>();

discordApp.use(
  bodyLimit({
    maxSize: MAX_WEBHOOK_BODY_BYTES,
    onError: (c) => problem(c, 413, `The body is over ${MAX_WEBHOOK_BODY_BYTES} bytes.`),
  }),
);

discordApp.post("/", async (c) => {
  const raw = new Uint8Array(await c.req.arrayBuffer());
  const verified = await verifyDiscordSignature(
    c.env.DISCORD_PUBLIC_KEY,
    raw,
    c.req.header("x-signature-ed25519"),
    c.req.header("x-signature-timestamp"),
  );
  if (!verified.ok) {
    switch (verified.reason) {
      case "not_configured":
        return problem(c, 503, "The Discord channel is not configured (DISCORD_PUBLIC_KEY is not set).");
      case "missing_signature":
        return problem(c, 401, "X-Signature-Ed25519 or X-Signature-Timestamp is missing.");
      case "bad_signature":
        return problem(c, 401, "X-Signature-Ed25519 does not match the body.");
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return problem(c, 400, "The body is not JSON.");
  }
  const interaction = interactionSchema.safeParse(body);
  if (!interaction.success) {
    return problem(c, 400, "The body is not a Discord interaction.", {
      issues: zodIssues(interaction.error.issues),
    });
  }
  const outcome = await handleDiscordInteraction(c.env, interaction.data, Date.now());
  if (!outcome.ok) return problem(c, 400, outcome.detail);
  return c.json(outcome.response);
});
