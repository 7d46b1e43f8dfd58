/**
 * Thread keys that double as reply addresses. A ticket's thread keys (newest first) tell the
 * outbound side where a reply goes, so no extra column is needed per channel.
 */

/** GitHub: `owner/repo#12`, lower-cased (GitHub names are case-insensitive; the key must be stable). */
export function githubIssueKey(repoFullName: string, issueNumber: number): string {
  return `${repoFullName}#${issueNumber}`.toLowerCase();
}

export function parseGithubIssueKey(key: string): { repo: string; issue: number } | null {
  const match = /^([^/\s#]+\/[^/\s#]+)#([1-9]\d{0,9})$/.exec(key);
  if (match?.[1] === undefined || match[2] === undefined) return null;
  return { repo: match[1], issue: Number(match[2]) };
}

/** The newest GitHub issue a ticket answers to (a transferred issue answers to its new home). */
export function githubIssueOf(threadKeys: readonly string[]): { repo: string; issue: number } | null {
  for (const key of threadKeys) {
    const parsed = parseGithubIssueKey(key);
    if (parsed !== null) return parsed;
  }
  return null;
}

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
