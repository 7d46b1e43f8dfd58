/**
 * GitHub thread keys, which double as reply addresses: a ticket's thread keys (newest first) tell
 * the outbound side which issue a reply goes to, so no extra column is needed.
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
