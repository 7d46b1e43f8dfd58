/**
 * Discord thread keys. The interaction's follow-up webhook is kept as one of the ticket's thread
 * keys too, so a reply within its lifetime can use it.
 */

/** Discord: a `/support` in a thread channel joins that thread's ticket; elsewhere each one is new. */
export function discordThreadKey(channelId: string): string {
  return `thread:${channelId}`;
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
