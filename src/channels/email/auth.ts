/**
 * Whether the receiving server says the From address failed DMARC (RFC 8601
 * `Authentication-Results`, RFC 8617 `ARC-Authentication-Results`). Only the receiving server's
 * own verdict counts: the topmost `Authentication-Results` (a sender can write any number of
 * these lower down, before the mail reached the receiver), else the newest ARC set (highest `i=`).
 */
export type SenderVerdict = "fail" | "pass" | "unknown";

/** `header` returns every value of a header, top to bottom. */
export function dmarcVerdict(headers: (name: string) => readonly string[]): SenderVerdict {
  const own = headers("authentication-results")[0];
  if (own !== undefined) return verdictOf(own);
  const arc = headers("arc-authentication-results")
    .map((value) => ({ value, instance: Number(/^\s*i\s*=\s*(\d+)/i.exec(value)?.[1] ?? 0) }))
    .sort((a, b) => b.instance - a.instance)[0];
  return arc === undefined ? "unknown" : verdictOf(arc.value);
}

/** The `dmarc=` result of one Authentication-Results value (comments in parentheses ignored). */
function verdictOf(value: string): SenderVerdict {
  const withoutComments = value.replace(/\([^()]*\)/g, " ");
  const result = /(?:^|[;\s])dmarc\s*=\s*([a-z]+)/i.exec(withoutComments)?.[1]?.toLowerCase();
  if (result === "fail") return "fail";
  if (result === "pass") return "pass";
  return "unknown";
}
