/**
 * Discord thread keys. The interaction's follow-up webhook is kept as one of the ticket's thread
 * keys too, so a reply within its lifetime can use it.
 */

/** Discord: a `/support` in a thread channel joins that thread's ticket; elsewhere each one is new. */
export function discordThreadKey(channelId: string): string {
  return `thread:${channelId}`;
}

/**
 * The ticket's requester in a thread (a Gateway message from this user in this thread is the
 * customer's, anyone else's the community's). Registered when the ticket opens.
 */
export function discordRequesterKey(threadId: string, userId: string): string {
  return `requester:${threadId}:${userId}`;
}

/** A ticket opened from a forum post over the Gateway: the desk acknowledges in the thread. */
export function discordForumThreadKey(threadId: string): string {
  return `gateway-thread:${threadId}`;
}

/**
 * A ticket opened from a top-level message in a support channel: the bot starts a thread on the
 * message (`POST /channels/{channel}/messages/{message}/threads`) and answers there.
 */
export function discordStartThreadKey(channelId: string, messageId: string): string {
  return `gateway-start:${channelId}:${messageId}`;
}

/** Where a Gateway ticket's messages go: its thread, and the thread to start first when there is none yet. */
export function discordGatewayTargetOf(
  threadKeys: readonly string[],
): { threadId: string; startThread: { channelId: string; messageId: string } | null } | null {
  for (const key of threadKeys) {
    const start = /^gateway-start:(\d{1,32}):(\d{1,32})$/.exec(key);
    if (start?.[1] !== undefined && start[2] !== undefined) {
      return { threadId: start[2], startThread: { channelId: start[1], messageId: start[2] } };
    }
    const forum = /^gateway-thread:(\d{1,32})$/.exec(key);
    if (forum?.[1] !== undefined) return { threadId: forum[1], startThread: null };
  }
  return null;
}

export function discordInteractionKey(interactionId: string): string {
  return `interaction:${interactionId}`;
}

export function discordMessageKey(messageId: string): string {
  return `message:${messageId}`;
}

/**
 * The interaction's follow-up webhook, kept as a thread key of the ticket so a reply within its
 * lifetime can use it. No inbound key can ever look like this one.
 */
export function discordFollowupKey(applicationId: string, expiresAt: number, token: string): string {
  return `followup:${applicationId}:${expiresAt}:${token}`;
}

export function discordFollowupOf(
  threadKeys: readonly string[],
): { applicationId: string; token: string; expiresAt: number } | null {
  let newest: { applicationId: string; token: string; expiresAt: number } | null = null;
  for (const key of threadKeys) {
    const match = /^followup:(\d{1,32}):(\d{1,16}):(.+)$/.exec(key);
    if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) continue;
    const candidate = { applicationId: match[1], expiresAt: Number(match[2]), token: match[3] };
    if (newest === null || candidate.expiresAt > newest.expiresAt) newest = candidate;
  }
  return newest;
}
