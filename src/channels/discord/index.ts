import { zodIssues } from "../../domain/issues";
import { setting } from "../../notify/http";
import type { ChannelIngress, WebhookEndpoint } from "../contract";
import { discordGateway } from "./gateway-client";
import { handleDiscordInteraction } from "./handle";
import { type Interaction, interactionSchema } from "./normalise";
import { verifyDiscordSignature } from "./verify";

/**
 * `POST /webhooks/discord`: the app's Interactions Endpoint URL. Every interaction is answered
 * inline: Discord shows "This interaction failed" unless the response comes within 3 s.
 */
const interactions: WebhookEndpoint<Interaction> = {
  path: "/webhooks/discord",
  signature: {
    provider: "Discord",
    secret: "DISCORD_PUBLIC_KEY",
    headers: "X-Signature-Ed25519 or X-Signature-Timestamp",
    signatureHeader: "X-Signature-Ed25519",
  },
  verify: (env, request) =>
    verifyDiscordSignature(
      env.DISCORD_PUBLIC_KEY,
      request.body,
      request.header("x-signature-ed25519"),
      request.header("x-signature-timestamp"),
    ),
  accept(_env, body) {
    const interaction = interactionSchema.safeParse(body);
    if (!interaction.success) {
      return {
        kind: "invalid",
        detail: "The body is not a Discord interaction.",
        issues: zodIssues(interaction.error.issues),
      };
    }
    return { kind: "job", job: interaction.data };
  },
  run: (env, interaction) => handleDiscordInteraction(env, interaction, Date.now()),
  storedStatus: () => 200,
};

export const discordIngress: ChannelIngress = {
  name: "discord",
  endpoints: [interactions],
  // SPEC §12: the hourly cron makes sure the Gateway session is up (the object's alarm keeps it up
  // between runs). Without DISCORD_BOT_TOKEN it does nothing.
  async scheduled(env) {
    if (setting(env.DISCORD_BOT_TOKEN) === undefined) return;
    const status = await discordGateway(env).ensure();
    if (status.state !== "ready")
      console.log(`discord gateway: ${status.state} (${status.lastError ?? "no error"})`);
  },
};
