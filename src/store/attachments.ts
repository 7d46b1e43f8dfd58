import { eq } from "drizzle-orm";
import type { Database } from "./db";
import { attachments } from "./schema";

export type AttachmentRow = typeof attachments.$inferSelect;

export async function getAttachment(db: Database, id: string): Promise<AttachmentRow | undefined> {
  return db.select().from(attachments).where(eq(attachments.id, id)).get();
}
