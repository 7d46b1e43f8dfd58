import type { Config } from "./config";
import { findCustomer } from "./routing";

/**
 * A ticket key quoted in a message (e.g. `[SUP-12]` in an email subject) is trusted only from the
 * ticket's requester or from an address of the same configured customer: anyone can type a ticket
 * key, and a stranger must not be able to write into someone else's conversation.
 */
export function acceptsTicketReference(
  ticket: { requesterEmail: string | null; customer: string | null },
  sender: { email?: string },
  config: Pick<Config, "customers">,
): boolean {
  const email = sender.email?.trim().toLowerCase();
  if (email === undefined || email === "") return false;
  if (ticket.requesterEmail !== null && ticket.requesterEmail.trim().toLowerCase() === email) return true;
  if (ticket.customer === null) return false;
  return findCustomer(config, { email })?.id === ticket.customer;
}
