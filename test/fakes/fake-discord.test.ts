/**
 * Self-test of the fake Discord, driven by the real discord.js Client (REST via @discordjs/rest, gateway
 * via @discordjs/ws): login and heartbeats, commands, slash/context-menu/component interactions with
 * their callbacks and webhooks, uploads and CDN downloads, channel messages, DMs, errors and rate limits.
 */
import { once } from 'node:events';
import {
  ActionRowBuilder, ButtonBuilder, ButtonStyle, Client, DiscordAPIError, Events, GatewayIntentBits, MessageFlags, Routes,
  StringSelectMenuBuilder, type Interaction, type TextChannel,
} from 'discord.js';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FakeDiscord, type FakeDiscordOptions } from './fake-discord.ts';

const png = (width: number, height: number, r = 200) =>
  sharp({ create: { width, height, channels: 3, background: { r, g: 80, b: 40 } } }).png().toBuffer();

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fake plus a real discord.js client logged into it (both closed after the test). */
async function setup(options: FakeDiscordOptions = {}) {
  const fake = await FakeDiscord.start({ heartbeatIntervalMs: 400, ...options });
  cleanups.push(() => fake.close());
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiBase } });
  cleanups.push(() => client.destroy());
  const started = Date.now();
  const ready = once(client, Events.ClientReady);
  await client.login(fake.token);
  await ready;
  return { fake, client, readyMs: Date.now() - started };
}

/** Runs `fn` on the next interaction the client receives; resolves with its result (or its error). */
function handleNext<T>(client: Client, fn: (interaction: Interaction) => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    client.once(Events.InteractionCreate, (interaction) => void fn(interaction).then(resolve, reject));
  });
}

async function apiError(promise: Promise<unknown>): Promise<DiscordAPIError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DiscordAPIError);
  return err as DiscordAPIError;
}

describe('FakeDiscord with real discord.js', () => {
  it('logs in fast, records IDENTIFY intents and ACKs heartbeats', async () => {
    const { fake, client, readyMs } = await setup();
    expect(readyMs).toBeLessThan(1500);
    expect(client.user?.id).toBe(fake.botUserId);
    expect(client.application?.id).toBe(fake.appId);
    const channel = client.channels.cache.get(fake.channelId) as TextChannel;
    expect(channel?.isTextBased()).toBe(true);
    expect(channel.guildId).toBe(fake.guildId);
    expect(client.guilds.cache.get(fake.guildId)?.members.me?.id).toBe(fake.botUserId);
    expect(fake.identifies).toHaveLength(1);
    expect(fake.identifies[0].intents).toBe(1);
    expect(fake.requests.map((r) => r.route)).toContain('GET /gateway/bot');
    await expect.poll(() => fake.heartbeats, { timeout: 3000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => client.ws.ping, { timeout: 1000 }).toBeGreaterThanOrEqual(0);
    expect(fake.protocolErrors).toEqual([]);
  });

  it('rejects a wrong token on REST and gateway, and unsupported gateway options', async () => {
    const fake = await FakeDiscord.start();
    cleanups.push(() => fake.close());
    const bad = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiBase } });
    cleanups.push(() => bad.destroy());
    await expect(bad.login('MTIzNDU2.abc.defghijk')).rejects.toMatchObject({ code: 'TokenInvalid' });
    expect(fake.requests[0]).toMatchObject({ route: 'GET /gateway/bot', status: 401, response: { message: '401: Unauthorized', code: 0 } });

    const closeCode = (url: string, identifyToken?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('message', (data) => {
          const payload = JSON.parse(String(data));
          if (payload.op === 10 && identifyToken !== undefined) ws.send(JSON.stringify({ op: 2, d: { token: identifyToken, intents: 1, properties: {} } }));
        });
        ws.on('close', (code) => resolve(code));
      });
    expect(await closeCode(`${fake.gatewayUrl}/?v=10&encoding=json`, 'wrong')).toBe(4004);
    expect(await closeCode(`${fake.gatewayUrl}/?v=10&encoding=json&compress=zlib-stream`)).toBe(1003);
    expect(await closeCode(`${fake.gatewayUrl}/?v=10&encoding=etf`)).toBe(1003);
    expect(fake.protocolErrors).toHaveLength(2);
    expect(fake.identifies).toEqual([]);
  });

  it('bulk-overwrites, lists and validates application commands', async () => {
    const { fake, client } = await setup();
    const body = [
      { name: 'animefy', description: 'Turn a photo into anime', options: [{ type: 11, name: 'image', description: 'The photo', required: true }] },
      { type: 3, name: 'Animefy this' },
    ];
    const stored = (await client.rest.put(Routes.applicationCommands(fake.appId), { body })) as any[];
    expect(stored).toHaveLength(2);
    expect(stored[0]).toMatchObject({ name: 'animefy', type: 1, application_id: fake.appId, id: expect.stringMatching(/^\d{17,19}$/), version: expect.any(String) });
    expect(fake.commands.global.map((c) => c.name)).toEqual(['animefy', 'Animefy this']);
    expect(await client.rest.get(Routes.applicationCommands(fake.appId))).toEqual(stored);
    // Overwriting keeps the id of a command with the same name.
    const again = (await client.rest.put(Routes.applicationCommands(fake.appId), { body: [body[0]] })) as any[];
    expect(again[0].id).toBe(stored[0].id);

    await client.rest.put(Routes.applicationGuildCommands(fake.appId, fake.guildId), { body: [{ name: 'style', description: 'Pick a style' }] });
    expect(fake.commands.guild.get(fake.guildId)?.[0]).toMatchObject({ name: 'style', guild_id: fake.guildId });
    // Also through discord.js's manager.
    const fetched = await client.application!.commands.fetch();
    expect([...fetched.values()].map((c) => c.name)).toEqual(['animefy']);

    const upper = await apiError(client.rest.put(Routes.applicationCommands(fake.appId), { body: [{ name: 'Animefy', description: 'x' }] }));
    expect(upper.code).toBe(50035);
    const choices = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, value: `c${i}` }));
    const tooMany = await apiError(client.rest.put(Routes.applicationCommands(fake.appId), { body: [{ name: 'x', description: 'x', options: [{ type: 3, name: 'o', description: 'o', choices }] }] }));
    expect(tooMany.rawError).toMatchObject({ code: 50035, errors: { 0: { options: { 0: { choices: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } } } } });
    const longDescription = await apiError(client.rest.put(Routes.applicationCommands(fake.appId), { body: [{ name: 'x', description: 'd'.repeat(101) }] }));
    expect(longDescription.code).toBe(50035);
    expect(fake.commands.global).toHaveLength(1); // failed overwrites change nothing
  });

  it('runs a slash command with an attachment: defer, download, edit with a file, ephemeral follow-up, delete', async () => {
    const { fake, client } = await setup();
    const input = await png(8, 6);
    const output = await png(16, 12, 20);
    const attachment = await fake.addAttachment('cat photo.png', input, 'image/png');
    expect(attachment).toMatchObject({ filename: 'cat photo.png', size: input.length, content_type: 'image/png', width: 8, height: 6 });

    const handled = handleNext(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error('expected a chat input command');
      const image = interaction.options.getAttachment('image', true);
      const seen = { url: image.url, size: image.size, contentType: image.contentType, width: image.width, limit: interaction.attachmentSizeLimit, inGuild: interaction.inCachedGuild(), channel: interaction.channel?.id };
      await interaction.deferReply();
      const downloaded = Buffer.from(await (await fetch(image.url)).arrayBuffer());
      const edited = await interaction.editReply({ content: 'done', files: [{ attachment: output, name: 'x.png' }] });
      const followUp = await interaction.followUp({ content: 'only you can see this', flags: MessageFlags.Ephemeral });
      return { seen, downloaded, edited, followUp };
    });
    const interaction = await fake.slashCommand({ name: 'animefy', options: [{ name: 'image', type: 11, value: attachment }] });
    const { seen, downloaded, edited, followUp } = await handled;

    expect(seen).toEqual({ url: attachment.url, size: input.length, contentType: 'image/png', width: 8, limit: 10 * 1024 * 1024, inGuild: true, channel: fake.channelId });
    expect(downloaded.equals(input)).toBe(true);
    expect(fake.downloads(attachment.url)).toBe(1);

    expect(interaction.callbacks.map((c) => c.type)).toEqual([5]);
    expect(interaction.ackMs).toBeLessThan(1000);
    const callback = fake.requests.find((r) => r.route === 'POST /interactions/:id/:token/callback')!;
    expect(callback).toMatchObject({ status: 204, query: { with_response: 'false' }, json: { type: 5, data: { flags: 0 } } });
    expect(callback.response).toBeUndefined();

    const original = interaction.original()!;
    expect(original).toMatchObject({ content: 'done', edits: 1, history: ['', 'done'], deleted: false, loading: false });
    expect(original.json).toMatchObject({ type: 20, webhook_id: fake.appId, author: { id: fake.botUserId }, interaction_metadata: { id: interaction.id, name: 'animefy' } });
    expect(original.files).toHaveLength(1);
    expect(original.files[0]).toMatchObject({ filename: 'x.png', contentType: 'image/png' });
    expect(original.files[0].data.equals(output)).toBe(true);
    expect(original.attachments[0]).toMatchObject({ filename: 'x.png', width: 16, height: 12 });
    const patch = fake.requests.find((r) => r.route === 'PATCH /webhooks/:app/:token/messages/@original')!;
    expect(patch.files.map((f) => f.field)).toEqual(['files[0]']);
    expect(patch.payload).toMatchObject({ content: 'done', attachments: [{ id: '0' }] });
    // discord.js built its Message from the returned object, and the bot can fetch the uploaded file.
    expect(edited.attachments.first()?.name).toBe('x.png');
    const served = Buffer.from(await (await fetch(edited.attachments.first()!.url)).arrayBuffer());
    expect(served.equals(output)).toBe(true);

    expect(interaction.followups).toHaveLength(1);
    expect(interaction.followups[0]).toMatchObject({ content: 'only you can see this', ephemeral: true });
    expect(followUp.flags.has(MessageFlags.Ephemeral)).toBe(true);
    expect(fake.messages(fake.channelId)).toHaveLength(2);

  });

  it('deleteReply removes the original, and edits keep or drop attachments like Discord', async () => {
    const { fake, client } = await setup();
    const handled = handleNext(client, async (interaction) => {
      if (!interaction.isChatInputCommand()) throw new Error('expected a chat input command');
      await interaction.reply({ content: 'v1', files: [{ attachment: await png(4, 4), name: 'a.png' }, { attachment: Buffer.from('hello'), name: 'b.txt' }] });
      const first = await interaction.fetchReply();
      await interaction.editReply({ content: 'v2' }); // no `attachments`: both kept
      await interaction.editReply({ content: 'v3', attachments: [first.attachments.last()!] }); // only b.txt kept
      const kept = fake.interaction(interaction.id)!.original()!.files.map((f) => f.filename);
      await interaction.deleteReply();
      return { kept, firstType: first.type };
    });
    const interaction = await fake.slashCommand({ name: 'animefy' });
    const { kept } = await handled;
    expect(kept).toEqual(['b.txt']);
    const original = interaction.original()!;
    expect(original).toMatchObject({ deleted: true, history: ['v1', 'v2', 'v3'], edits: 2 });
    expect(original.files[0]).toMatchObject({ filename: 'b.txt', contentType: 'text/plain' });
    expect(fake.messages()).toEqual([]);
    expect(fake.message(original.id)?.deleted).toBe(true);
    expect(fake.requests.find((r) => r.route === 'DELETE /webhooks/:app/:token/messages/@original')?.status).toBe(204);
  });

  it('handles buttons and selects: ephemeral reply, update with values, deferUpdate + deleteReply', async () => {
    const { fake, client } = await setup();
    const buttons = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('again').setLabel('Again').setStyle(ButtonStyle.Primary),
      new ButtonBuilder().setCustomId('info').setLabel('Info').setStyle(ButtonStyle.Secondary),
    );
    const styles = new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(
      new StringSelectMenuBuilder().setCustomId('style').addOptions({ label: 'Ghibli', value: 'ghibli' }, { label: 'Shinkai', value: 'shinkai' }),
    );
    const replied = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await i.reply({ content: 'pick one', components: [buttons, styles] });
    });
    const command = await fake.slashCommand({ name: 'animefy' });
    await replied;
    const message = await command.waitForOriginal((m) => m.components.length === 2);

    const info = handleNext(client, async (i) => {
      if (!i.isButton()) throw new Error('expected a button');
      await i.reply({ content: `info for ${i.message.id}`, flags: MessageFlags.Ephemeral });
      return { customId: i.customId, component: i.component?.type };
    });
    const press = await fake.button({ customId: 'info', message });
    expect(await info).toEqual({ customId: 'info', component: 2 });
    expect(press.callbacks[0].type).toBe(4);
    expect(press.original()).toMatchObject({ content: `info for ${message.id}`, ephemeral: true });
    expect(press.original()?.json.interaction_metadata).toMatchObject({ type: 3, interacted_message_id: message.id });

    const picked = handleNext(client, async (i) => {
      if (!i.isStringSelectMenu()) throw new Error('expected a select menu');
      await i.update({ content: `style: ${i.values.join(',')}`, components: [buttons] });
      return i.values;
    });
    const select = await fake.select({ customId: 'style', values: ['ghibli'], message });
    expect(await picked).toEqual(['ghibli']);
    expect(select.callbacks[0].type).toBe(7);
    expect(fake.message(message.id)).toMatchObject({ content: 'style: ghibli', edits: 1 });
    expect(fake.message(message.id)!.components).toHaveLength(1);
    expect(select.original()?.id).toBe(message.id);

    const again = handleNext(client, async (i) => {
      if (!i.isButton()) throw new Error('expected a button');
      await i.deferUpdate();
      await i.deleteReply();
    });
    const button = await fake.button({ customId: 'again', message });
    await again;
    expect(button.callbacks[0].type).toBe(6);
    expect(fake.message(message.id)?.deleted).toBe(true);
    await expect(fake.button({ customId: 'again', message })).rejects.toThrow(/deleted message/);
  });

  it('gives context-menu commands the target message with attachments and embeds; with_response returns the message', async () => {
    const { fake, client } = await setup();
    const image = await png(10, 10);
    const attachment = await fake.addAttachment('photo.png', image);
    const embedUrl = fake.serveRaw('/embeds/cat.png', await png(5, 5), 'image/png');
    const handled = handleNext(client, async (interaction) => {
      if (!interaction.isMessageContextMenuCommand()) throw new Error('expected a message context menu');
      const target = interaction.targetMessage;
      const embedImage = target.embeds[0]?.image?.url;
      const fetched = await fetch(embedImage!);
      const response = await interaction.reply({ content: 'on it', withResponse: true });
      return {
        name: interaction.commandName, content: target.content, attachment: target.attachments.first()?.url, embedImage, fetchedType: fetched.headers.get('content-type'),
        responseId: response.interaction.responseMessageId, resourceContent: response.resource?.message?.content,
      };
    });
    const interaction = await fake.contextMenu({ name: 'Animefy this', message: { content: 'look at this', attachments: [attachment], embeds: [{ image: { url: embedUrl } }] } });
    const seen = await handled;
    expect(seen).toMatchObject({ name: 'Animefy this', content: 'look at this', attachment: attachment.url, embedImage: embedUrl, fetchedType: 'image/png', resourceContent: 'on it' });
    expect(seen.responseId).toBe(interaction.original()?.id);
    expect(interaction.original()?.json.type).toBe(23);
    expect(fake.downloads(embedUrl)).toBe(1);
    expect(fake.requests.find((r) => r.route.startsWith('POST /interactions'))).toMatchObject({ status: 200, query: { with_response: 'true' } });
  });

  it('expires tokens and late acks, and refuses a second acknowledgement', async () => {
    const { fake, client } = await setup({ ackDeadlineMs: 200 });
    const expired = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await i.deferReply();
      const again = await apiError(client.rest.post(Routes.interactionCallback(i.id, i.token), { body: { type: 4, data: { content: 'twice' } }, auth: false }));
      fake.expireToken(i.token);
      const edit = await apiError(i.editReply('too late'));
      return { again: again.code, edit: edit.code, status: edit.status };
    });
    await fake.slashCommand({ name: 'animefy' });
    expect(await expired).toEqual({ again: 40060, edit: 50027, status: 401 });

    const late = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await new Promise((resolve) => setTimeout(resolve, 300));
      return apiError(i.deferReply());
    });
    const slow = await fake.slashCommand({ name: 'animefy' });
    expect((await late).code).toBe(10062);
    expect(slow.expired).toBe(true);
    expect(slow.ackMs).toBeUndefined();

    const unknown = await apiError(client.rest.patch(Routes.webhookMessage(fake.appId, 'no-such-token'), { body: { content: 'x' }, auth: false }));
    expect(unknown.code).toBe(10015);
  });

  it('sends channel messages (JSON and multipart), fails a channel with 403, and sends DMs', async () => {
    const { fake, client } = await setup();
    const sent = (await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'hello' } })) as any;
    expect(sent).toMatchObject({ content: 'hello', channel_id: fake.channelId, guild_id: fake.guildId, author: { id: fake.botUserId, bot: true }, type: 0 });
    const channel = (await client.channels.fetch(fake.channelId, { force: true })) as TextChannel;
    const withFile = await channel.send({ content: 'file', files: [{ attachment: Buffer.from('abc'), name: 'notes.txt' }] });
    expect(withFile.attachments.first()).toMatchObject({ name: 'notes.txt', size: 3 });
    expect(fake.messages(fake.channelId).map((m) => m.content)).toEqual(['hello', 'file']);
    await withFile.edit('file (edited)');
    expect(fake.message(withFile.id)).toMatchObject({ content: 'file (edited)', edits: 1 });
    expect(fake.message(withFile.id)!.files[0].data.toString()).toBe('abc'); // edits without `attachments` keep files
    await withFile.delete();
    expect(fake.message(withFile.id)?.deleted).toBe(true);
    expect((await apiError(channel.send({}))).code).toBe(50006);

    fake.failChannel(fake.channelId);
    const denied = await apiError(channel.send('nope'));
    expect([denied.status, denied.code]).toEqual([403, 50001]);

    const bob = fake.user(undefined, 'bob');
    expect((await client.users.fetch(bob.id)).username).toBe('bob');
    const dm = await client.users.createDM(bob.id);
    await dm.send('your picture is ready');
    expect(fake.dmsTo(bob.id).map((m) => m.content)).toEqual(['your picture is ready']);
    expect(fake.dmsTo(bob.id)[0].json.guild_id).toBeUndefined();
    expect(((await client.rest.get(Routes.user())) as any).id).toBe(fake.botUserId);

    // A slash command in the bot's DMs.
    const inDm = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await i.reply('hi in DM');
      return { inGuild: i.inGuild(), context: i.context, user: i.user.id };
    });
    const dmCommand = await fake.slashCommand({ name: 'animefy', user: bob, guild: false });
    expect(await inDm).toEqual({ inGuild: false, context: 1, user: bob.id });
    expect(dmCommand.original()?.channelId).toBe(dm.id);
    expect(fake.unhandled).toEqual([]);
  });

  it('retries a one-shot 429 on PATCH @original after retry-after, and a one-shot 500', async () => {
    const { fake, client } = await setup();
    fake.failNext(/^PATCH \/webhooks\/.*\/messages\/@original$/, { status: 429, retryAfter: 0.3 });
    const handled = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await i.deferReply();
      await i.editReply('made it');
    });
    const interaction = await fake.slashCommand({ name: 'animefy' });
    await handled;
    const patches = fake.requests.filter((r) => r.route === 'PATCH /webhooks/:app/:token/messages/@original');
    expect(patches.map((r) => r.status)).toEqual([429, 200]);
    expect(patches[0].response).toEqual({ message: 'You are being rate limited.', retry_after: 0.3, global: false });
    expect(patches[1].at - patches[0].at).toBeGreaterThanOrEqual(250);
    expect(interaction.original()?.content).toBe('made it');

    fake.failNext(/POST \/channels\/:channel\/messages/, { status: 500 });
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'after outage' } });
    expect(fake.requests.filter((r) => r.route === 'POST /channels/:channel/messages').map((r) => r.status)).toEqual([500, 200]);

    fake.failNext(/POST \/channels/, { status: 403, code: 50013, message: 'Missing Permissions' });
    expect((await apiError(client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x' } }))).code).toBe(50013);
  });

  it('answers callbacks 204 without content-type, serves only signed CDN URLs, 404s unknown routes', async () => {
    const { fake } = await setup();
    const first = await fake.slashCommand({ name: 'animefy' }); // no handler: the test answers itself
    const res = await fetch(`${fake.apiBase}/v10/interactions/${first.id}/${first.token}/callback?with_response=false`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 5, data: { flags: 64 } }),
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('content-type')).toBeNull();
    expect(await res.text()).toBe('');
    expect(first.original()).toMatchObject({ content: '', flags: 64 | 128, ephemeral: true, loading: true });

    const second = await fake.slashCommand({ name: 'animefy' });
    const withResponse = await fetch(`${fake.apiBase}/v10/interactions/${second.id}/${second.token}/callback?with_response=true`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 4, data: { content: 'hi' } }),
    });
    expect(await withResponse.json()).toMatchObject({
      interaction: { id: second.id, type: 2, response_message_id: second.original()!.id, response_message_loading: false, response_message_ephemeral: false },
      resource: { type: 4, message: { content: 'hi', type: 20 } },
    });

    const attachment = await fake.addAttachment('a.bin', Buffer.from([1, 2, 3]));
    const unsigned = await fetch(attachment.url.split('?')[0]);
    expect(unsigned.status).toBe(404);
    const proxied = await fetch(attachment.proxy_url);
    expect(proxied.headers.get('content-length')).toBe('3');
    expect(fake.downloads(attachment.id)).toBe(1);

    const auth = { authorization: `Bot ${fake.token}` };
    const unknown = await fetch(`${fake.apiBase}/v10/guilds/${fake.guildId}/emojis`, { headers: auth });
    expect([unknown.status, await unknown.json()]).toEqual([404, { message: '404: Not Found', code: 0 }]);
    expect(fake.unhandled.map((r) => r.route)).toEqual([`GET /guilds/${fake.guildId}/emojis`]);
    expect((await fetch(`${fake.apiBase}/v10/users/@me`)).status).toBe(401);
  });

  it('a follow-up right after a defer edits the loading reply (ephemeral ignored); with that reply deleted it fails 10008', async () => {
    const { fake, client } = await setup();
    const edited = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await i.deferReply();
      const followUp = await i.followUp({ content: 'only you?', flags: MessageFlags.Ephemeral });
      // Once the reply is no longer loading, a follow-up is a new message again.
      const second = await i.followUp({ content: 'really only you', flags: MessageFlags.Ephemeral });
      return { followUp, second };
    });
    const first = await fake.slashCommand({ name: 'animefy' });
    const { followUp, second } = await edited;
    expect(followUp.id).toBe(first.original()!.id);
    expect(first.original()).toMatchObject({ content: 'only you?', ephemeral: false, loading: false, edits: 1 });
    expect(first.followupEdits).toBe(1);
    expect(first.followups).toHaveLength(1);
    expect(second.id).not.toBe(followUp.id);
    expect(first.followups[0]).toMatchObject({ content: 'really only you', ephemeral: true });

    const deletedFirst = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await i.deferReply();
      await i.deleteReply();
      return apiError(i.followUp({ content: 'lost', flags: MessageFlags.Ephemeral }));
    });
    const second2 = await fake.slashCommand({ name: 'animefy' });
    const err = await deletedFirst;
    expect([err.status, err.code]).toEqual([404, 10008]);
    expect(second2.followups).toEqual([]);

    // Edited first, then the ephemeral follow-up, then the delete: the requester keeps the message.
    const editedFirst = handleNext(client, async (i) => {
      if (!i.isChatInputCommand()) throw new Error('expected a chat input command');
      await i.deferReply();
      await i.editReply('⚠️ no');
      await i.followUp({ content: '⚠️ no', flags: MessageFlags.Ephemeral });
      await i.deleteReply();
    });
    const third = await fake.slashCommand({ name: 'animefy' });
    await editedFirst;
    expect(third.original()?.deleted).toBe(true);
    expect(third.followups.map((m) => [m.content, m.ephemeral])).toEqual([['⚠️ no', true]]);
  });

  it('says where an interaction comes from (context, owners, app_permissions) and enforces channel permissions and closed DMs', async () => {
    const { fake, client } = await setup();
    const seen: any[] = [];
    client.on(Events.InteractionCreate, (i) => {
      seen.push({ context: i.context, guildId: i.guildId, owners: i.authorizingIntegrationOwners.toJSON(), canSend: i.appPermissions?.has('SendMessages'), channel: i.channelId });
      if (i.isRepliable()) void i.reply({ content: 'ok', flags: MessageFlags.Ephemeral });
    });
    const user = fake.user(undefined, 'zoe');
    for (const place of ['guild', 'guild-user-install', 'bot-dm', 'group-dm'] as const) await (await fake.slashCommand({ name: 'animefy', user, place })).waitForAck();
    const dm = fake.dmChannel(user.id).id;
    expect(seen).toEqual([
      { context: 0, guildId: fake.guildId, owners: { 0: fake.guildId }, canSend: true, channel: fake.channelId },
      // No bot in that server: @everyone's permissions (which may well include Send Messages), owned by the user only.
      { context: 0, guildId: fake.foreignGuildId, owners: { 1: user.id }, canSend: true, channel: fake.foreignChannelId },
      { context: 1, guildId: null, owners: { 0: '0' }, canSend: true, channel: dm },
      { context: 2, guildId: null, owners: { 1: user.id }, canSend: false, channel: fake.groupDmId },
    ]);
    // The app answered in all four places, but its bot can only post in the first and in its own DM.
    expect((await apiError(client.rest.post(Routes.channelMessages(fake.foreignChannelId), { body: { content: 'x' } }))).code).toBe(50001);
    expect((await apiError(client.rest.post(Routes.channelMessages(fake.groupDmId), { body: { content: 'x' } }))).code).toBe(50001);

    fake.setBotPermissions(fake.channelId, (1n << 10n) | (1n << 11n)); // view and send, no files
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'text is fine' } });
    const noFiles = await apiError(client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x' }, files: [{ name: 'a.txt', data: Buffer.from('a') }] }));
    expect([noFiles.status, noFiles.code]).toEqual([403, 50013]);
    fake.setBotPermissions(fake.channelId, 0n);
    expect((await apiError(client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'x' } }))).code).toBe(50001);
    const limited = await fake.slashCommand({ name: 'animefy', user });
    await limited.waitForAck();
    expect(seen.at(-1).canSend).toBe(false);

    fake.closeDms(user.id);
    const channel = (await client.rest.post(Routes.userChannels(), { body: { recipient_id: user.id } })) as any; // opening still works
    const closed = await apiError(client.rest.post(Routes.channelMessages(channel.id), { body: { content: 'hi' } }));
    expect([closed.status, closed.code]).toEqual([403, 50007]);
  });

  it('gives a forwarded message empty and its files in message_snapshots; marks SPOILER_ files; expired attachment URLs answer 404', async () => {
    const { fake, client } = await setup();
    const image = await png(6, 6);
    const spoiler = await fake.addAttachment('SPOILER_cat.png', image);
    expect(spoiler.flags).toBe(8);
    const plain = await fake.addAttachment('cat.png', image);
    expect(plain.flags).toBeUndefined();
    const handled = handleNext(client, async (i) => {
      if (!i.isMessageContextMenuCommand()) throw new Error('expected a message context menu');
      await i.reply({ content: 'ok', flags: MessageFlags.Ephemeral });
      const target = i.targetMessage;
      const snapshot = target.messageSnapshots.first();
      return { own: target.attachments.size, content: target.content, snapshot: snapshot?.attachments.first()?.url, spoiler: snapshot?.attachments.first()?.spoiler, forwardType: target.reference?.type };
    });
    await fake.contextMenu({ name: 'Animefy', message: { forwardOf: { content: 'look', attachments: [spoiler] } } });
    expect(await handled).toEqual({ own: 0, content: '', snapshot: spoiler.url, spoiler: true, forwardType: 1 });

    expect((await fetch(plain.url)).status).toBe(200);
    fake.expireAttachment(plain.url);
    const gone = await fetch(plain.url);
    expect([gone.status, await gone.text()]).toEqual([404, 'This content is no longer available.']);
    const short = await fake.addAttachment('short.png', image, 'image/png', { ttlMs: 1000 });
    expect(Number.parseInt(new URL(short.url).searchParams.get('ex')!, 16) - Number.parseInt(new URL(short.url).searchParams.get('is')!, 16)).toBe(1);
  });

  it('shards like Discord: /gateway/bot recommends a count, one shard past 2,500 servers is refused (4011), shards: "auto" starts', async () => {
    const fake = await FakeDiscord.start({ heartbeatIntervalMs: 400, guildCount: 2600, maxConcurrency: 3 });
    cleanups.push(() => fake.close());
    const gateway = await fetch(`${fake.apiBase}/v10/gateway/bot`, { headers: { authorization: `Bot ${fake.token}` } });
    expect(await gateway.json()).toMatchObject({ shards: 3, session_start_limit: { max_concurrency: 3 } });

    const closeCode = new Promise<number>((resolve) => {
      const ws = new WebSocket(`${fake.gatewayUrl}/?v=10&encoding=json`);
      ws.on('message', (data) => {
        if (JSON.parse(String(data)).op === 10) ws.send(JSON.stringify({ op: 2, d: { token: fake.token, intents: 1, properties: {} } }));
      });
      ws.on('close', (code) => resolve(code));
    });
    expect(await closeCode).toBe(4011);

    const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiBase }, shards: 'auto' });
    cleanups.push(() => client.destroy());
    const ready = once(client, Events.ClientReady);
    await client.login(fake.token);
    await ready;
    expect(fake.identifies.map((i) => i.shard).sort()).toEqual([[0, 3], [1, 3], [2, 3]]);
    expect(client.ws.shards.size).toBe(3);
    expect(client.guilds.cache.has(fake.guildId)).toBe(true);
    // An interaction reaches the client once, through the shard of its server.
    const shards: number[] = [];
    client.on(Events.Raw, (packet: any, shardId: number) => {
      if (packet.t === 'INTERACTION_CREATE') shards.push(shardId);
    });
    const handled = handleNext(client, async (i) => {
      if (i.isRepliable()) await i.reply('hi');
      return i.guildId;
    });
    await fake.slashCommand({ name: 'animefy' });
    expect(await handled).toBe(fake.guildId);
    expect(shards).toEqual([Number((BigInt(fake.guildId) >> 22n) % 3n)]);
  });

  it('leaves no open sockets after client.destroy() and fake.close()', async () => {
    const tcp = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
    const before = tcp();
    const { fake, client } = await setup();
    await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'bye' } });
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await expect.poll(tcp, { timeout: 2000 }).toBeLessThanOrEqual(before);
    await expect(fake.waitForMessage(() => false, 10)).rejects.toThrow(/closed/);
  });
});
