/**
 * `npm run discord:register`: registers the Discord commands and exits (the same bulk overwrite
 * `npm start` does on every start). Needs DISCORD_TOKEN and DISCORD_APP_ID; DISCORD_GUILD_ID
 * registers them in one server instead of globally.
 */
import { DiscordAPIError } from 'discord.js';
import { ConfigError, getConfig } from '../config.ts';
import { registerCommands } from '../bots/discord/commands/index.ts';
import { describeDiscordError } from '../bots/discord/reply.ts';
import { discordCredentials, discordRest } from '../bots/discord/start.ts';

async function main(): Promise<void> {
  try {
    const config = getConfig();
    const { token, appId } = discordCredentials(config);
    const { count, scope } = await registerCommands(discordRest(config, token), appId, config.DISCORD_GUILD_ID);
    console.log(`Registered ${count} Discord commands (${scope}).`);
    if (!config.DISCORD_GUILD_ID) console.log('Global commands can take a few minutes to show up in every server.');
  } catch (err) {
    const reason = err instanceof DiscordAPIError ? describeDiscordError(err) : err instanceof Error ? err.message : String(err);
    console.error(err instanceof ConfigError ? reason : `Could not register the commands: ${reason}`);
    process.exitCode = 1;
  }
}

void main();
