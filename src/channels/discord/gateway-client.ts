import { GATEWAY_OBJECT_NAME } from "./gateway";

/** The desk's one `DiscordGateway` object (SPEC §12: a singleton). */
export function discordGateway(env: Pick<Env, "DISCORD_GATEWAY">) {
  return env.DISCORD_GATEWAY.get(env.DISCORD_GATEWAY.idFromName(GATEWAY_OBJECT_NAME));
}
