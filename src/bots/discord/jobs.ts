/**
 * Discord's side of the shared job flow (`../job-flow.ts`). Checks that need nothing fetched (bot stopping, rate limit,
 * the size Discord states) answer at once with an ephemeral message. Everything else is acknowledged
 * with a deferred reply first (well within Discord's 3 s, whatever the queue looks like), then the
 * file is fetched, submitted with the interaction's upload limit, and the reply follows the queue
 * (position, stage and percent) until the result replaces it, with its buttons.
 */
import { DiscordAPIError, MessageFlags, RESTJSONErrorCodes, type RepliableInteraction } from 'discord.js';
import type { Logger } from 'pino';
import { AnimefyError, isAnimefyError } from '../../errors.ts';
import { EMOJI_EFFECTS } from '../../pipeline/emoji-effects.ts';
import { isStickerOperation, type FaceLook, type Mode, type Operation, type UpscaleFactor } from '../../pipeline/modes.ts';
import { discordEmojiFromSticker } from '../../pipeline/sticker.ts';
import type { PersonChoice } from '../../pipeline/person-choice.ts';
import type { JobOptions, JobQueue, JobResult } from '../../queue/types.ts';
import type { ActiveJob } from '../active-jobs.ts';
import { downloadTooLarge, fetchMedia } from '../fetch-media.ts';
import { canUpscale, PlatformJobs, resultFileName, warningText, type Admission, type JobExtras } from '../job-flow.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { ReferenceStore } from '../references.ts';
import type { PendingResults } from '../result-store.ts';
import { markedFaces, offerFaceSwitch, resultCaption } from '../result-caption.ts';
import { cancelButton, personMenu, resultButtons, stickerButtons } from './components.ts';
import { declaredKind, isAllowedMediaUrl, isExpiredMediaUrl, type MediaSource } from './media.ts';
import { describeDiscordError, JobReply, type ResultPayload } from './reply.ts';

export interface DiscordLimits {
  /** Largest input fetched. */
  inputBytes: number;
  /** Largest result in pixels (decides whether "Upscale" is offered). */
  maxOutputPixels: number;
  /** Longest GIF or video accepted, in seconds (for /about). */
  maxClipSeconds: number;
  /** Embed images are fetched only from these hosts. */
  mediaHosts: readonly string[];
}

/** Discord's smallest upload limit, used when an interaction does not state its own. */
export const DEFAULT_UPLOAD_BYTES = 10 * 1024 * 1024;
/** Left free under the upload limit for the rest of the request. */
const UPLOAD_MARGIN_BYTES = 64 * 1024;

/** What a button remembers about a job: enough to run it again, never the media. */
export interface JobReference {
  media: MediaSource;
  requesterId: string;
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  faces: FaceLook;
  private: boolean;
  /** What the job does (default animefy); on a people picker, what a pick runs. */
  operation?: Operation;
  /** Person mode and erase: who. */
  person?: PersonChoice;
  /** Sticker, emoji, smile: their choices. */
  extras?: JobExtras;
}

export interface JobSpec {
  media: MediaSource;
  style: string;
  mode: Mode;
  upscale: UpscaleFactor;
  faces: FaceLook;
  private: boolean;
  /** What the job does (default animefy); `people` is the numbered picker, shown only to the requester. */
  operation?: Operation;
  person?: PersonChoice;
  /** For a `people` job: what a pick runs next. */
  pickFor?: Exclude<Operation, 'people'>;
  /** Sticker, emoji, smile: their choices. */
  extras?: JobExtras;
}

export interface DiscordJobsDeps {
  queue: JobQueue;
  limits: DiscordLimits;
  rateLimiter: RateLimiter;
  refs: ReferenceStore<JobReference>;
  log: Logger;
  /** Minimum time between progress edits of one reply. */
  editIntervalMs: number;
  /** Interaction token lifetime (tests shorten it). */
  tokenTtlMs?: number;
  /** Where late results wait when they can be neither posted nor DMed. */
  pending: PendingResults;
}

/** Discord's CDN answers these for a file it no longer serves (expired URL, removed upload). */
const GONE_STATUSES = new Set([403, 404, 410]);

/** The upload limit for this interaction's replies, less a margin for the rest of the request. */
export function uploadLimit(interaction: { attachmentSizeLimit?: number | null }): number {
  const stated = interaction.attachmentSizeLimit;
  const limit = typeof stated === 'number' && stated > 0 ? stated : DEFAULT_UPLOAD_BYTES;
  return Math.max(64 * 1024, limit - UPLOAD_MARGIN_BYTES);
}

export class DiscordJobs extends PlatformJobs {
  constructor(private readonly deps: DiscordJobsDeps) {
    super({ platform: 'discord', queue: deps.queue, rateLimiter: deps.rateLimiter, log: deps.log, describeError: describeDiscordError });
  }

  /**
   * Answers the interaction (an ephemeral refusal, or a deferred reply) before returning, then runs
   * the job in the background; every outcome reaches the user.
   */
  async start(interaction: RepliableInteraction, spec: JobSpec): Promise<void> {
    const { log, limits } = this.deps;
    const refuse = (err: unknown) => interaction.reply({ content: warningText(err), flags: MessageFlags.Ephemeral });
    let admission: Admission;
    try {
      admission = await this.flow.admit(interaction.user.id);
    } catch (err) {
      return void (await refuse(err));
    }
    if (spec.media.size !== undefined && spec.media.size > limits.inputBytes) {
      admission.refund();
      return void (await refuse(downloadTooLarge(spec.media.size, limits.inputBytes)));
    }

    try {
      // The people picker is for the requester alone.
      const hidden = spec.private || spec.operation === 'people';
      await interaction.deferReply(hidden ? { flags: MessageFlags.Ephemeral } : {});
    } catch (err) {
      admission.refund();
      log.warn({ err: describeDiscordError(err), interaction: interaction.id }, 'could not acknowledge the interaction');
      return;
    }

    const reply = new JobReply(interaction, { private: spec.private || spec.operation === 'people', intervalMs: this.deps.editIntervalMs, log, tokenTtlMs: this.deps.tokenTtlMs, pending: this.deps.pending });
    this.flow.start(interaction.user.id, (job, token) => this.run(token, job, admission, interaction, reply, spec), { interaction: interaction.id });
  }

  /** Discord's side of the job flow: the media URL (allow-listed), the deferred reply, the upload limit. */
  private run(token: string, job: ActiveJob, admission: Admission, interaction: RepliableInteraction, reply: JobReply, spec: JobSpec): Promise<void> {
    const { log } = this.deps;
    const cancelRow = [cancelButton(token, interaction.user.id)];
    const maxBytes = uploadLimit(interaction);
    return this.flow.execute(job, admission, {
      download: (signal) => this.download(spec.media, signal),
      declaredKind: declaredKind(spec.media),
      options: () => ({
        style: spec.style,
        mode: spec.mode,
        upscale: spec.upscale,
        faces: spec.faces,
        quality: 'fast',
        maxBytes,
        ...(spec.operation ? { operation: spec.operation } : {}),
        ...(spec.person ? { person: spec.person } : {}),
        ...spec.extras,
        ...resultShape(spec.operation),
      }),
      surface: {
        status: (text) => reply.update(text, cancelRow),
        deliver: async (result) => {
          try {
            const delivery = await reply.result(await this.resultPayload(interaction.user.id, spec, result, maxBytes));
            log.debug({ interaction: interaction.id, delivery }, 'result delivered');
          } catch (err) {
            if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.RequestEntityTooLarge) {
              throw new AnimefyError('RESULT_TOO_LARGE', { limit: 'the upload limit' });
            }
            throw err;
          }
        },
        fail: (text, cancelled) => (cancelled ? reply.finish(text) : reply.fail(text)),
      },
      context: { interaction: interaction.id },
    });
  }

  /**
   * Fetches the input. Discord's attachment URLs are signed and expire (files uploaded to a command
   * option sooner than the URL's day), so a URL past its `ex`, or one the CDN answers 403/404 for, is
   * reported as gone: the user has to send the file again (e.g. "Another style" hours later).
   */
  private async download(media: MediaSource, signal: AbortSignal): Promise<Buffer> {
    const { limits } = this.deps;
    if (!media.trusted && !isAllowedMediaUrl(media.url, limits.mediaHosts)) throw new AnimefyError('MEDIA_HOST_NOT_ALLOWED');
    if (isExpiredMediaUrl(media.url)) throw new AnimefyError('DISCORD_FILE_GONE');
    try {
      return await fetchMedia(media.url, { maxBytes: limits.inputBytes, signal });
    } catch (err) {
      if (isAnimefyError(err) && err.code === 'DOWNLOAD_FAILED' && GONE_STATUSES.has(Number(err.params.status))) {
        throw new AnimefyError('DISCORD_FILE_GONE', {}, { cause: err });
      }
      throw err;
    }
  }

  private async resultPayload(requesterId: string, spec: JobSpec, result: JobResult, maxBytes: number) {
    const { refs, limits } = this.deps;
    if (result.data.byteLength > maxBytes) throw new AnimefyError('RESULT_TOO_LARGE', { limit: `${Math.round(maxBytes / 2 ** 20)} MB` });
    const data = Buffer.from(result.data.buffer, result.data.byteOffset, result.data.byteLength);
    const { media, style, mode, upscale, faces } = spec;
    if (spec.operation === 'people') {
      // The picker: what a pick runs, on this file.
      const next = spec.pickFor ?? 'animefy';
      const ref = await refs.put({ media, requesterId, style, mode, upscale, faces, private: spec.private, operation: next });
      const count = result.people?.length ?? 0;
      const question = next === 'erase' ? 'Who should I erase?' : 'Who should become anime?';
      return {
        content: `👥 ${count === 1 ? '1 person' : `${count} people, numbered left to right`}. ${question}`,
        file: { name: 'people.jpg', data },
        components: [personMenu(ref, count, next !== 'erase' && count > 1)],
      };
    }
    const ref = await refs.put({
      ...{ media, requesterId, style, mode, upscale, faces, private: spec.private },
      operation: spec.operation,
      // "Another style" on person 2 keeps person 2.
      person: result.chosen?.length ? result.chosen : spec.person,
      extras: spec.extras,
    });
    if (isStickerOperation(spec.operation)) return stickerPayload(spec, result, data, ref, requesterId);
    // Erase, smile and landmarks have no style to change, and their own look of faces.
    const styled = spec.operation === undefined || spec.operation === 'animefy';
    const name = spec.operation === 'smile' || spec.operation === 'landmarks' ? spec.operation : spec.style;
    return {
      content: resultCaption(
        { style, mode, upscale, faces, notes: result.notes, operation: spec.operation, chosen: result.chosen, smile: spec.extras?.smile, marked: markedFaces(result) },
        2000,
      ),
      // Discord shows a file named SPOILER_… blurred: a spoilered input comes back spoilered.
      file: { name: `${spec.media.spoiler ? 'SPOILER_' : ''}${resultFileName(name, result.format)}`, data },
      components: [
        resultButtons({
          ref,
          requesterId,
          canUpscale: styled && canUpscale(result, spec.upscale, limits.maxOutputPixels),
          otherFaces: styled ? offerFaceSwitch(spec.faces, result) : undefined,
          restyle: styled,
        }),
      ],
    };
  }
}

/**
 * What a job asks the pipeline for on Discord: the people picker a JPEG; a sticker a 320 px PNG
 * (Discord's sticker size, under 512 KB); an emoji a 128 px GIF (its emoji size, under 256 KB).
 */
function resultShape(operation: Operation | undefined): Pick<JobOptions, 'format' | 'size'> {
  if (operation === 'people') return { format: 'jpeg' };
  if (operation === 'sticker') return { format: 'png', size: DISCORD_STICKER_SIZE };
  if (operation === 'emoji') return { format: 'gif', size: DISCORD_EMOJI_SIZE };
  return {};
}

/** Discord's sticker and emoji sizes (px). */
export const DISCORD_STICKER_SIZE = 320;
export const DISCORD_EMOJI_SIZE = 128;

/**
 * A sticker comes as two files ready to upload to a server (Server Settings → Stickers / Emoji):
 * the 320 px sticker and a 128 px emoji of it. An emoji is one GIF. Under both: ✨ Animate it or
 * 🔁 Another effect, and 🗑 Delete.
 */
async function stickerPayload(spec: JobSpec, result: JobResult, data: Buffer, ref: string, requesterId: string): Promise<ResultPayload> {
  const spoiler = spec.media.spoiler ? 'SPOILER_' : '';
  const animated = spec.operation === 'emoji';
  const notes = result.notes.map((n) => `ℹ️ ${n}`);
  const effect = EMOJI_EFFECTS.find((e) => e.id === spec.extras?.effect);
  const content = animated
    ? `${effect?.emoji ?? '✨'} Animated emoji${effect ? `: ${effect.label}` : ''}, ${DISCORD_EMOJI_SIZE} px. Add it in Server Settings → Emoji.`
    : `🏷️ Sticker (${DISCORD_STICKER_SIZE} px) and emoji (${DISCORD_EMOJI_SIZE} px). Add them in Server Settings → Stickers / Emoji.`;
  return {
    content: [content, ...notes].join('\n').slice(0, 2000),
    file: { name: `${spoiler}animefy-${spec.operation}${animated ? '.gif' : '.png'}`, data },
    ...(animated ? {} : { extraFiles: [{ name: `${spoiler}animefy-emoji.png`, data: await discordEmojiFromSticker(data) }] }),
    components: [stickerButtons({ ref, requesterId, animated })],
  };
}
