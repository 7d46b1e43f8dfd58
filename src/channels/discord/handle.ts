import type { Config } from "../../domain/config";
import type { InboundMessageInput } from "../../domain/inbound";
import { formatDeadline } from "../../domain/sla";
import type { DeskEnv } from "../../env";
import { intake } from "../../intake";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import type { ChannelResult } from "../contract";
import {
  commandDataSchema,
  commandText,
  EPHEMERAL,
  type Interaction,
  InteractionType,
  modalDataSchema,
  modalValues,
  normaliseMessageCommand,
  normaliseSupportRequest,
  ResponseType,
  SUPPORT_COMMAND,
  SUPPORT_MESSAGE_COMMAND,
  SUPPORT_MODAL_ID,
  supportFields,
  supportModal,
} from "./normalise";

/** The JSON body of an interaction response. */
export type InteractionResponse =
  | { type: typeof ResponseType.PONG }
  | { type: typeof ResponseType.DEFERRED_UPDATE_MESSAGE }
  | { type: typeof ResponseType.CHANNEL_MESSAGE_WITH_SOURCE; data: { content: string; flags?: number } }
  | { type: typeof ResponseType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT; data: { choices: [] } }
  | ReturnType<typeof supportModal>;

/** Every answer is an interaction response (`answer`); a malformed one is `invalid`. */
type DiscordOutcome = ChannelResult;

/** Every interaction gets an answer: Discord shows "This interaction failed" to the user otherwise. */
export async function handleDiscordInteraction(
  env: DeskEnv & { DISCORD_APPLICATION_ID?: string },
  interaction: Interaction,
  receivedAt: number,
): Promise<DiscordOutcome> {
  const options = { applicationId: env.DISCORD_APPLICATION_ID, receivedAt };
  switch (interaction.type) {
    case InteractionType.PING:
      return { kind: "answer", body: { type: ResponseType.PONG } };
    case InteractionType.APPLICATION_COMMAND: {
      const data = commandDataSchema.safeParse(interaction.data);
      if (!data.success) return { kind: "invalid", detail: "command data is malformed" };
      if (data.data.name === SUPPORT_COMMAND && data.data.type === 1) {
        const text = commandText(data.data);
        if (text === undefined) return { kind: "answer", body: supportModal() };
        return openTicket(env, normaliseSupportRequest(interaction, { text }, options));
      }
      if (data.data.name === SUPPORT_MESSAGE_COMMAND && data.data.type === 3) {
        const config = await loadConfig(database(env.DB));
        const message = normaliseMessageCommand(interaction, data.data, {
          ...options,
          publicChannelIds: config.discord.publicChannelIds,
        });
        if (message === null) return ephemeral("That message has no text to open a ticket with.");
        return openTicket(env, message, config);
      }
      return ephemeral(`Switchboard does not know the command “${data.data.name}”.`);
    }
    case InteractionType.MODAL_SUBMIT: {
      const data = modalDataSchema.safeParse(interaction.data);
      if (!data.success) return { kind: "invalid", detail: "modal data is malformed" };
      if (data.data.custom_id !== SUPPORT_MODAL_ID)
        return ephemeral("This form is not one of Switchboard's.");
      const request = supportFields(modalValues(data.data.components));
      if (request.text === "") return ephemeral("Please describe the problem: the description was empty.");
      return openTicket(env, normaliseSupportRequest(interaction, request, options));
    }
    case InteractionType.MESSAGE_COMPONENT:
      // We send no buttons; acknowledge without changing the message.
      return { kind: "answer", body: { type: ResponseType.DEFERRED_UPDATE_MESSAGE } };
    case InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
      return {
        kind: "answer",
        body: { type: ResponseType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, data: { choices: [] } },
      };
    default:
      return ephemeral("Switchboard cannot handle this interaction.");
  }
}

function ephemeral(content: string): DiscordOutcome {
  return {
    kind: "answer",
    body: { type: ResponseType.CHANNEL_MESSAGE_WITH_SOURCE, data: { content, flags: EPHEMERAL } },
  };
}

/** Intake, then answer in the channel (type 4) with the ticket key and the deadline. */
async function openTicket(
  env: DeskEnv,
  message: InboundMessageInput,
  known?: Config,
): Promise<DiscordOutcome> {
  const result = await intake(env, message, known === undefined ? {} : { config: known });
  if (!result.ok) return ephemeral("Sorry, that could not be filed as a ticket.");
  let content = result.acknowledgement;
  if (content === null) {
    const config = known ?? (await loadConfig(database(env.DB)));
    const by =
      result.responseDueAt === null
        ? ""
        : ` We will reply by ${formatDeadline(result.responseDueAt, Date.now(), config.timezone)}.`;
    content = result.created
      ? `We have your request as ${result.ticket}.${by}`
      : `Added to ${result.ticket}.${by}`;
  }
  const response: InteractionResponse = { type: ResponseType.CHANNEL_MESSAGE_WITH_SOURCE, data: { content } };
  return { kind: "answer", body: response };
}
