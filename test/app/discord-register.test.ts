/**
 * `npm run discord:register`: registers the commands against the fake Discord's REST API (via
 * DISCORD_API_BASE) and exits; running it again overwrites with the same commands.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDefinitions } from '#src/bots/discord/commands/index.ts';
import { REPO_ROOT } from '#src/config.ts';
import { FakeDiscord } from '../fakes/fake-discord.ts';

let fake: FakeDiscord;

beforeAll(async () => {
  fake = await FakeDiscord.start();
});

afterAll(async () => {
  await fake?.close();
});

function register(extra: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, DISCORD_TOKEN: '', DISCORD_APP_ID: '', DISCORD_GUILD_ID: '', DISCORD_API_BASE: fake.apiBase, ...extra };
  const child = spawn('npm', ['run', '--silent', 'discord:register'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

describe('npm run discord:register', () => {
  it('registers the commands in one server, idempotently, and exits', async () => {
    const env = { DISCORD_TOKEN: fake.token, DISCORD_APP_ID: fake.appId, DISCORD_GUILD_ID: fake.guildId };
    const first = await register(env);
    expect(first.code).toBe(0);
    expect(first.output).toContain(`Registered ${commandDefinitions().length} Discord commands (guild ${fake.guildId})`);
    const commands = fake.commands.guild.get(fake.guildId)!;
    expect(commands.map((c) => c.name).sort()).toEqual(commandDefinitions().map((c) => c.name).sort());
    expect(fake.commands.global).toEqual([]);

    const second = await register(env);
    expect(second.code).toBe(0);
    expect(fake.commands.guild.get(fake.guildId)!.map((c) => c.id)).toEqual(commands.map((c) => c.id));
    // It never opened a gateway connection: registering is REST only.
    expect(fake.identifies).toEqual([]);
  }, 60_000);

  it('says what is missing or refused', async () => {
    const missing = await register({ DISCORD_TOKEN: fake.token });
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('DISCORD_APP_ID is not set');
    const refused = await register({ DISCORD_TOKEN: `${fake.token}x`, DISCORD_APP_ID: fake.appId });
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/Could not register the commands: 401/);
    expect(refused.output).not.toContain(fake.token);
  }, 60_000);
});
