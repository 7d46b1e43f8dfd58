import { callbackUrlRefusal } from "../../domain/access";
import type { DeskEnv } from "../../env";
import { type IntakeResult, intake } from "../../intake";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import type { ChannelIngress } from "../contract";
import { type ApiMessage, normaliseApiMessage } from "./normalise";

export { type ApiMessage, apiMessageSchema, scopedKey } from "./normalise";

/**
 * The `api` channel (integration webhook): `POST /v1/messages` in `http/routes/messages.ts`, where
 * the bearer token is its verification and the OpenAPI document describes its body.
 */
export const apiIngress: ChannelIngress = { name: "api", endpoints: [] };

export type ApiMessageResult =
  | IntakeResult
  | { ok: false; reason: "callback_refused"; detail: string; path: "callbackUrl" };

/**
 * One validated integration message from the token named `caller` → intake. Its ids are scoped to
 * `caller`; its `callbackUrl` must be on one of the caller's `callbackHosts` when the configuration
 * lists them (SPEC §11), or nothing is stored.
 */
export async function handleApiMessage(
  env: DeskEnv,
  caller: string,
  body: ApiMessage,
  receivedAt: number,
): Promise<ApiMessageResult> {
  const message = normaliseApiMessage(caller, body, receivedAt);
  // Without a callbackUrl there is nothing to check: intake reads the configuration with its own lookups.
  if (body.callbackUrl === undefined) return intake(env, message);
  const config = await loadConfig(database(env.DB));
  const hosts = config.integrations.find((i) => i.name === caller)?.callbackHosts;
  const refusal = callbackUrlRefusal(body.callbackUrl, hosts);
  if (refusal !== null)
    return { ok: false, reason: "callback_refused", detail: refusal, path: "callbackUrl" };
  return intake(env, message, { config });
}
