import type { DeskEnv } from "../env";
import { loadConfig } from "../store/config";
import { database } from "../store/db";
import { applyPatches } from "../store/ticket-changes";
import { getTicketRows, type TicketRow } from "../store/tickets";
import { payTimerDebt } from "../timer/client";
import { planPatchWrite } from "./tickets";

/** At most this many tickets per bulk action: one D1 batch of a few statements each stays small. */
export const BULK_MAX_TICKETS = 50;

export type BulkAction = { kind: "assign"; assignee: string | null } | { kind: "resolve" };

export interface BulkResult {
  /** Changed by this action, in the order asked. */
  changed: number[];
  /** Already so (resolved, or already that assignee): nothing to do. */
  unchanged: number[];
  /** No such ticket. */
  missing: number[];
  /** Changed by someone else between reading and writing: left as it was (try again). */
  raced: number[];
}

/**
 * A bulk action from the queue (assign, or resolve) over up to BULK_MAX_TICKETS tickets. Each
 * ticket is planned exactly as a single PATCH is (`planPatchWrite`: the timer debt, the survey of a
 * resolve, the knowledge base), and all of them are written in ONE D1 batch, each guarded by the
 * revision it was planned from. Then each ticket's timer debt is paid, as after a single patch.
 */
export async function bulkPatchTickets(
  env: DeskEnv,
  numbers: readonly number[],
  action: BulkAction,
  agent: string,
): Promise<BulkResult> {
  const wanted = [...new Set(numbers)].slice(0, BULK_MAX_TICKETS);
  const db = database(env.DB);
  const [config, rows] = await Promise.all([loadConfig(db), getTicketRows(db, wanted)]);
  const byNumber = new Map(rows.map((r) => [r.number, r]));
  const result: BulkResult = { changed: [], unchanged: [], missing: [], raced: [] };
  const todo: TicketRow[] = [];
  for (const number of wanted) {
    const row = byNumber.get(number);
    if (row === undefined) result.missing.push(number);
    else if (action.kind === "resolve" ? row.status === "resolved" : row.assignee === action.assignee)
      result.unchanged.push(number);
    else todo.push(row);
  }
  const planned = await Promise.all(
    todo.map((row) =>
      planPatchWrite(
        env,
        db,
        row,
        action.kind === "resolve" ? { status: "resolved" } : { assignee: action.assignee },
        config,
        agent,
      ),
    ),
  );
  const after = await applyPatches(
    db,
    planned.map((p) => p.write),
  );
  await Promise.all(
    planned.map(async (p, i) => {
      const row = after[i];
      const number = p.write.number;
      if (row === undefined) {
        result.raced.push(number);
        return;
      }
      result.changed.push(number);
      await payTimerDebt(env, db, p.debt.id, row, p.debt.debt);
    }),
  );
  const order = (list: number[]) => list.sort((a, b) => wanted.indexOf(a) - wanted.indexOf(b));
  order(result.changed);
  order(result.raced);
  return result;
}
