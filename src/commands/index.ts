/**
 * Ticket commands: what an agent (API or console) or a channel event does to a ticket. Each
 * validates, plans, writes one D1 batch through `store/` and tells the ticket's timer what it owes.
 */
export { BULK_MAX_TICKETS, type BulkAction, type BulkResult, bulkPatchTickets } from "./bulk";
export { type ChannelPatchResult, patchFromChannel, queueTicketCalls } from "./channel-events";
export {
  answerSurvey,
  type EscalationResult,
  escalateTicket,
  type SurveyAnswer,
  type SurveyClosed,
  surveyClosed,
  surveyState,
} from "./follow-up";
export {
  addImprovement,
  applyIssueChange,
  type ImprovementInput,
  type ImprovementResult,
  type IssueChange,
  type IssueChangeResult,
  noteOnLinkedTickets,
  shipOnTickets,
} from "./improvements";
export { type PromoteResult, promoteQuarantined, type Reread } from "./quarantine";
export {
  type PatchOptions,
  type PatchResult,
  PUBLIC_SURVEY_LIFETIME_MS,
  patchTicket,
  type ReplyResult,
  replyToTicket,
  SURVEY_QUESTION,
  type TicketPatch,
} from "./tickets";
