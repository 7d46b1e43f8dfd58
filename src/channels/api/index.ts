import type { DeskEnv } from "../../env";
import { type IntakeResult, intake } from "../../intake";
import type { ChannelIngress } from "../contract";
import { type ApiMessage, normaliseApiMessage } from "./normalise";

export { type ApiMessage, apiMessageSchema } from "./normalise";

/**
 * The `api` channel (integration webhook): `POST /v1/messages` in `http/routes/messages.ts`, where
 * the bearer token is its verification and the OpenAPI document describes its body.
 */
export const apiIngress: ChannelIngress = { name: "api", endpoints: [] };

/** One validated integration message → intake. */
export function handleApiMessage(env: DeskEnv, body: ApiMessage, receivedAt: number): Promise<IntakeResult> {
  return intake(env, normaliseApiMessage(body, receivedAt));
}
