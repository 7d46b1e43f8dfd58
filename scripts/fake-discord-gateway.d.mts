/** Types of scripts/fake-discord-gateway.mjs, for the worker tests' global setup. */
export interface FakeDiscord {
  port: number;
  origin: string;
  apiUrl: string;
  close(): Promise<void>;
}
export function startFakeDiscord(options?: { port?: number; token?: string | null }): Promise<FakeDiscord>;
export function snowflake(): string;
export const FAKE_BOT_USER: { id: string; username: string; bot: boolean; discriminator: string };
