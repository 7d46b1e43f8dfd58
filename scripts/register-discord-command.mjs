#!/usr/bin/env node
// Registers Switchboard's Discord commands: `/support` (opens the support form, or files the
// text given with it) and the "Open support ticket" message command.
//
//   DISCORD_APPLICATION_ID=… DISCORD_BOT_TOKEN=… node scripts/register-discord-command.mjs
//   DISCORD_GUILD_ID=… …            register in one server only (instant; global commands can take a while)
//   … --dry-run                     print the request instead of sending it
//
// PUT replaces the application's whole command list (global, or the guild's) with these two.
const DRY_RUN = process.argv.includes("--dry-run");
const applicationId = process.env.DISCORD_APPLICATION_ID?.trim();
const botToken = process.env.DISCORD_BOT_TOKEN?.trim();
const guildId = process.env.DISCORD_GUILD_ID?.trim();
const base = (process.env.DISCORD_API_URL?.trim() || "https://discord.com/api/v10").replace(/\/+$/, "");

if (!applicationId || (!botToken && !DRY_RUN)) {
  console.error("Set DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN (see README, “Discord”).");
  process.exit(1);
}

// Names and ids must match src/channels/discord/normalise.ts.
const commands = [
  {
    name: "support",
    type: 1, // CHAT_INPUT
    description: "Contact support: opens a form, or files the text you give",
    options: [
      {
        type: 3, // STRING
        name: "text",
        description: "What happened? (leave out to get a form with a subject)",
        required: false,
        max_length: 4000,
      },
    ],
  },
  { name: "Open support ticket", type: 3 }, // MESSAGE context-menu command
];

const path = guildId
  ? `/applications/${applicationId}/guilds/${guildId}/commands`
  : `/applications/${applicationId}/commands`;

if (DRY_RUN) {
  console.log(`PUT ${base}${path}`);
  console.log(JSON.stringify(commands, null, 2));
  process.exit(0);
}

const response = await fetch(`${base}${path}`, {
  method: "PUT",
  headers: {
    authorization: `Bot ${botToken}`,
    "content-type": "application/json",
    "user-agent": "DiscordBot (https://switchboard.dev, 1)",
  },
  body: JSON.stringify(commands),
});
const text = await response.text();
if (!response.ok) {
  console.error(`Discord answered ${response.status}: ${text}`);
  process.exit(1);
}
const registered = JSON.parse(text);
for (const command of registered)
  console.log(
    `registered ${command.type === 3 ? `message command “${command.name}”` : `/${command.name}`} (${command.id})`,
  );
