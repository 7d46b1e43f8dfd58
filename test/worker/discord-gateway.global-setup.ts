import type { TestProject } from "vitest/node";
import { startFakeDiscord } from "../../scripts/fake-discord-gateway.mjs";

/**
 * The fake Discord Gateway (scripts/fake-discord-gateway.mjs) runs in Node, outside workerd: the
 * Gateway object connects to it over a real WebSocket, the tests drive it through its control API.
 */
export default async function setup(project: TestProject) {
  const fake = await startFakeDiscord({ token: "discord-bot-test-token" });
  project.provide("fakeDiscordOrigin", fake.origin);
  return () => fake.close();
}

declare module "vitest" {
  export interface ProvidedContext {
    fakeDiscordOrigin: string;
  }
}
