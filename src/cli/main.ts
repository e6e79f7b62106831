/**
 * `animefy` command line: turns photos into anime from the terminal, with the same pipeline the bots
 * use. Progress by stage on stderr; with --json one JSON object per input on stdout.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, getConfig } from '../config.ts';
import { isAnimefyError, userMessage } from '../errors.ts';
import { getLogger, setLogLevel } from '../log.ts';
import { animefyAny, type AnyFormat, type AnyResult, type Pipelines } from '../pipeline/animefy-any.ts';
import { FORMAT_EXTENSIONS, formatFromPath, isOutputFormat } from '../pipeline/encode.ts';
import { ImagePipeline } from '../pipeline/image-pipeline.ts';
import { isMediaFormat, MEDIA_EXTENSIONS } from '../pipeline/media/frames.ts';
import { MediaPipeline } from '../pipeline/media/media-pipeline.ts';
import {
  DEFAULT_FACE_LOOK,
  DEFAULT_MODE,
  FACE_LOOKS,
  MODES,
  parseFaceLook,
  DEFAULT_SMILE_AMOUNT,
  parseMode,
  parseQuality,
  parseSmileAmount,
  parseUpscale,
  type Mode,
  type Operation,
} from '../pipeline/modes.ts';
import { checkPersonOption, formatPersonChoice, parsePersonChoice } from '../pipeline/person-choice.ts';
import type { ProgressEvent } from '../pipeline/progress.ts';
import { DEFAULT_EMOJI_EFFECT, EMOJI_EFFECT_IDS, EMOJI_EFFECTS, MAX_CAPTION_CHARS, parseEmojiEffect } from '../pipeline/emoji-effects.ts';
import { DEFAULT_GIF_EMOJI_SIZE, DEFAULT_STICKER_SIZE, MAX_STICKER_SIZE, MIN_STICKER_SIZE, parseStickerSize } from '../pipeline/sticker-size.ts';
import { DEFAULT_STYLE, STYLES, getStyle } from '../pipeline/styles.ts';
import type { AnimefyRequest } from '../pipeline/types.ts';

export const USAGE = `Usage: animefy <input...> [options]
       animefy erase <input...> [--person <who>] [--out <file|dir>] [--json]
       animefy people <input...> [--out <file|dir>] [--json]
       animefy sticker <input...> [--style <id>] [--body] [--size <px>] [--out x.webp|x.png]
       animefy emoji <input...> [--effect <effect>] [--text <caption>] [--out x.gif|x.webm]
       animefy smile <input...> [--amount <0..1>] [--out <file|dir>]
       animefy landmarks <input...> [--points <file.json>] [--out <file|dir>]

Turns photos, GIFs and short videos into anime style. A GIF comes back as a GIF (or MP4/WebM when
--out names one); a video as an MP4 with its sound.

  erase    removes the chosen person (default: the largest) from a photo and rebuilds the
           background behind them; photos only, and not someone who fills over 60% of it
  people   writes the picker picture: a box and a big number on each person found, numbered from
           left to right, the numbers --person takes
  sticker  a cut-out cartoon of the person (face and shoulders, or --body) with a white die-cut
           outline on a transparent background: WebP (Telegram-ready, 512 px, under 512 KB) or PNG
  emoji    an animated reaction sticker made from that cut-out: GIF (default, ${DEFAULT_GIF_EMOJI_SIZE} px, under
           256 KB) or WebM with transparency (a Telegram video sticker, 512 px, under 3 s and 256 KB)
  smile    the real photo, GIF or video with the faces made to smile (faces looking at the camera)
  landmarks  each face's box, 68 points and contour lines drawn on every frame, real and anime faces

Options:
  -s, --style <id>       style (default: ${DEFAULT_STYLE}); see --list-styles
  -m, --mode <mode>      ${MODES.map((m) => m.id).join(' | ')} (default: ${DEFAULT_MODE}; person with --person)
  -p, --person <who>     who is stylized in person mode (or erased): a number from \`animefy people\`
                         (2), several (1,3), largest (default) or all; implies --mode person
  -u, --upscale <n>      1 | 2 | 4: output size × n with Real-ESRGAN (default: 1)
  -q, --quality <q>      fast | high: high uses the ISNet person mask (default: fast)
  -f, --faces <look>     ${FACE_LOOKS.map((f) => f.id).join(' | ')}: anime faces, or faces that keep their
                         likeness (default: ${DEFAULT_FACE_LOOK})
  -o, --out <file|dir>   output file (one input) or directory (default: current directory)
      --body             sticker/emoji: the whole person instead of the face and shoulders
  -e, --effect <effect>  emoji: ${EMOJI_EFFECT_IDS.join(' | ')} (default: ${DEFAULT_EMOJI_EFFECT})
  -t, --text <caption>   emoji: a short caption, at most ${MAX_CAPTION_CHARS} characters
      --size <px>        sticker/emoji: long side, ${MIN_STICKER_SIZE}-${MAX_STICKER_SIZE} (default: ${DEFAULT_STICKER_SIZE}; a GIF emoji ${DEFAULT_GIF_EMOJI_SIZE})
      --smile            with a style: the faces smile before they are stylized
      --amount <0..1>    how much the faces smile (smile and --smile; default: ${DEFAULT_SMILE_AMOUNT})
      --points <file>    landmarks: also write every face's box and 68 points, per frame, as JSON
      --json             print one JSON object per input on stdout (with person mode, erase and
                         people: people: [{index, x, y, w, h, score}] and chosen: [numbers])
      --list-styles      list the styles and exit
  -h, --help             show this help

Modes:
${MODES.map((m) => `  ${m.id.padEnd(11)} ${m.description}`).join('\n')}

Emoji effects:
${EMOJI_EFFECTS.map((e) => `  ${e.id.padEnd(11)} ${e.description}`).join('\n')}

Examples:
  animefy photo.jpg
  animefy photo.jpg --style shinkai --upscale 2 --out result.png
  animefy group.jpg --faces keep
  animefy people group.jpg                  # writes group.people.jpg: who is 1, 2, 3 …
  animefy group.jpg --person 2              # only person 2 becomes anime, on the real photo
  animefy group.jpg --person 1,3 --json
  animefy erase group.jpg --person 2        # person 2 removed, the background rebuilt
  animefy a.jpg b.jpg --mode person --out results/ --json
  animefy clip.gif --person 1               # follows person 1 through the clip
  animefy clip.gif --out clip.anime.mp4
  animefy video.mp4 --style shinkai
  animefy sticker selfie.jpg --style cartoon # selfie.sticker.webp
  animefy emoji selfie.jpg --effect hearts --text "gm" --out gm.webm
  animefy smile portrait.jpg --amount 0.8   # portrait.smile.jpg, still a photo
  animefy portrait.jpg --smile              # a smiling anime portrait
  animefy landmarks clip.gif --points clip.points.json`;

class UsageError extends Error {}

/** An input file that cannot be read (missing, a directory, no permission). */
class InputFileError extends Error {}

interface CliOptions {
  inputs: string[];
  style: string;
  request: Omit<AnimefyRequest, 'format' | 'onProgress' | 'style' | 'signal'>;
  out?: string;
  json: boolean;
  /** landmarks --points: where the per-frame face points go (JSON). */
  points?: string;
}

/** `animefy erase …`, `animefy sticker …` and the rest: the first word names the operation. */
const COMMANDS: Readonly<Record<string, Operation>> = {
  erase: 'erase',
  people: 'people',
  sticker: 'sticker',
  emoji: 'emoji',
  smile: 'smile',
  landmarks: 'landmarks',
};

function parseCli(argv: string[]): CliOptions | 'help' | 'list-styles' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        style: { type: 'string', short: 's', default: DEFAULT_STYLE },
        mode: { type: 'string', short: 'm' },
        person: { type: 'string', short: 'p' },
        upscale: { type: 'string', short: 'u', default: '1' },
        quality: { type: 'string', short: 'q', default: 'fast' },
        faces: { type: 'string', short: 'f', default: DEFAULT_FACE_LOOK },
        out: { type: 'string', short: 'o' },
        body: { type: 'boolean', default: false },
        effect: { type: 'string', short: 'e' },
        text: { type: 'string', short: 't' },
        size: { type: 'string' },
        smile: { type: 'boolean', default: false },
        amount: { type: 'string' },
        points: { type: 'string' },
        json: { type: 'boolean', default: false },
        'list-styles': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (values['list-styles']) return 'list-styles';
  // To animefy a file really named "erase", "sticker" and so on, write ./erase.
  const operation: Operation = COMMANDS[positionals[0] ?? ''] ?? 'animefy';
  const inputs = operation === 'animefy' ? positionals : positionals.slice(1);
  if (inputs.length === 0) throw new UsageError('no input given');
  const style = getStyle(values.style).id;
  const person = values.person === undefined ? undefined : parsePersonChoice(values.person);
  // --person picks who is stylized in person mode, so on its own it means person mode.
  const mode: Mode = values.mode !== undefined ? parseMode(values.mode) : person !== undefined ? 'person' : DEFAULT_MODE;
  checkPersonOption(mode, operation, person);
  const only = (flag: string, allowed: readonly Operation[], given: boolean) => {
    if (given && !allowed.includes(operation)) {
      throw new UsageError(`--${flag} goes with ${allowed.map((o) => (o === 'animefy' ? 'a style (animefy <input>)' : `animefy ${o}`)).join(' or ')}`);
    }
  };
  only('body', ['sticker', 'emoji'], values.body);
  only('effect', ['emoji'], values.effect !== undefined);
  only('text', ['emoji'], values.text !== undefined);
  only('size', ['sticker', 'emoji'], values.size !== undefined);
  only('smile', ['animefy'], values.smile);
  only('amount', ['smile', 'animefy'], values.amount !== undefined);
  only('points', ['landmarks'], values.points !== undefined);
  if (operation === 'animefy' && values.amount !== undefined && !values.smile) throw new UsageError('--amount goes with smile or --smile');
  const amount = values.amount === undefined ? DEFAULT_SMILE_AMOUNT : parseSmileAmount(values.amount);
  return {
    inputs,
    style,
    request: {
      mode,
      upscale: parseUpscale(values.upscale),
      quality: parseQuality(values.quality),
      faces: parseFaceLook(values.faces),
      ...(operation === 'animefy' ? {} : { operation }),
      ...(person === undefined ? {} : { person }),
      ...(values.body ? { body: true } : {}),
      ...(operation === 'emoji' ? { effect: values.effect === undefined ? DEFAULT_EMOJI_EFFECT : parseEmojiEffect(values.effect) } : {}),
      ...(values.text === undefined ? {} : { text: values.text }),
      ...(values.size === undefined ? {} : { size: parseStickerSize(values.size) }),
      ...(operation === 'smile' || values.smile ? { smile: amount } : {}),
    },
    out: values.out,
    json: values.json,
    ...(values.points === undefined ? {} : { points: values.points }),
  };
}

export function listStyles(image?: ImagePipeline): string {
  const rows = STYLES.map((s) => {
    const resolved = image?.style(s.id);
    const tag = resolved?.trained ? ' [trained model installed]' : '';
    return `  ${s.emoji}  ${s.id.padEnd(12)} ${(resolved?.description ?? s.description) + tag}`;
  });
  return `Styles (default: ${DEFAULT_STYLE}):\n${rows.join('\n')}`;
}

/** The file --out names and the format its extension asks for: only for one input, and not a directory. */
async function outFile(out: string | undefined, many: boolean): Promise<{ file: string; format: AnyFormat } | undefined> {
  if (!out || many) return undefined;
  const ext = path.extname(out).slice(1).toLowerCase();
  const format = formatFromPath(out) ?? (isMediaFormat(ext) ? ext : undefined);
  const isDir = await fs.stat(out).then((s) => s.isDirectory(), () => false);
  return format && !isDir ? { file: out, format } : undefined;
}

/**
 * The formats to ask for, by preference: the one --out names; else a picture keeps its file's format
 * (PNG when that is none we write, and for a face mode avatar). A GIF or video whose --out names no
 * clip format gets the pipeline's default: GIF for a GIF, MP4 for a video. The people preview: JPEG.
 */
function wantedFormats(input: string, mode: string, out: { format: AnyFormat } | undefined, operation?: Operation): (AnyFormat | undefined)[] {
  // The people preview is a picture whatever the input (a clip's first frame): JPEG unless --out says.
  if (operation === 'people') return [out?.format, 'jpeg'];
  // A sticker is a WebP (Telegram's format) or PNG, an emoji a GIF or WebM, whatever the input.
  if (operation === 'sticker') return [out?.format === 'png' ? 'png' : 'webp'];
  if (operation === 'emoji') return [out?.format === 'webm' ? 'webm' : 'gif'];
  return [out?.format, mode === 'face' ? 'png' : (formatFromPath(input) ?? 'png')];
}

/**
 * Where one input's result goes: the --out file when it asked for the result's format, else
 * `<input name>.<style>[.<mode>][-<person>]<ext>` in the --out directory (default: the current one);
 * erase writes `<input name>.erased[-<person>]<ext>`, the people preview `<input name>.people<ext>`,
 * the others `<input name>.sticker<ext>`, `.emoji-<effect>`, `.smile`, `.landmarks`.
 */
export function outputPathFor(
  input: string,
  style: string,
  mode: string,
  format: AnyFormat,
  out: string | undefined,
  target: { file: string; format: AnyFormat } | undefined,
  pick: { operation?: Operation; person?: AnimefyRequest['person']; effect?: string } = {},
): string {
  if (target?.format === format) return target.file;
  const who = pick.person === undefined ? '' : `-${formatPersonChoice(pick.person).replace(/,/g, '-')}`;
  const base = path.basename(input, path.extname(input));
  const name =
    pick.operation === 'erase'
      ? `${base}.erased${who}`
      : pick.operation === 'people'
        ? `${base}.people`
        : pick.operation === 'emoji'
          ? `${base}.emoji-${pick.effect ?? DEFAULT_EMOJI_EFFECT}`
          : pick.operation === 'sticker' || pick.operation === 'smile' || pick.operation === 'landmarks'
            ? `${base}.${pick.operation}`
            : `${base}.${style}${mode === DEFAULT_MODE ? '' : `.${mode}`}${who}`;
  const ext = isOutputFormat(format) ? FORMAT_EXTENSIONS[format] : MEDIA_EXTENSIONS[format];
  return path.join(out ?? '.', name + ext);
}

/** What the progress line says about a finished result: frames for a clip, faces for a picture. */
function kb(bytes: number): string {
  return `${Math.round(bytes / 102.4) / 10} KB`;
}

function summary(result: AnyResult): string {
  const people = result.people ? `${result.people.length} ${result.people.length === 1 ? 'person' : 'people'}` : '';
  if (result.operation === 'people') return people;
  const chosen = result.chosen?.length ? `, ${result.operation === 'erase' ? 'erased' : 'stylized'} ${result.chosen.length === 1 ? 'person' : 'people'} ${result.chosen.join(', ')}` : '';
  if (result.operation === 'erase') return people + chosen;
  if (result.operation === 'sticker') return `${kb(result.data.byteLength)}, transparent`;
  if (result.operation === 'emoji') return `${result.media?.frames ?? '?'} frames, ${result.media?.duration ?? '?'} s, ${kb(result.data.byteLength)}`;
  if (result.operation === 'landmarks') {
    const tracks = new Set(result.landmarks?.map((f) => f.id)).size;
    return `${tracks} face${tracks === 1 ? '' : 's'} marked${result.media ? ` on ${result.media.frames} frames` : ''}`;
  }
  const m = result.media;
  if (m) return `${m.frames} frames at ${m.fps} fps${m.hasAudio ? ', with sound' : ''}, flicker ${m.flicker ?? '–'}${chosen}`;
  const anime = result.faceBoxes.filter((f) => f.renderer === 'face-model').length;
  const faces = `${result.faces} face${result.faces === 1 ? '' : 's'}${result.faces > 0 ? ` (${anime} by the face model)` : ''}`;
  return people ? `${faces}, ${people}${chosen}` : faces;
}

class ProgressLine {
  private lastStage = '';
  private readonly tty = process.stderr.isTTY;

  constructor(private readonly prefix: string) {}

  update(event: ProgressEvent): void {
    if (this.tty) {
      const frames = event.frames ? ` frame ${event.frame}/${event.frames}` : '';
      process.stderr.write(`\r\x1b[K${this.prefix} ${event.stage.padEnd(12)} ${Math.round(event.percent)}%${frames}`);
    } else if (event.stage !== this.lastStage) {
      process.stderr.write(`${this.prefix} ${event.stage}\n`);
    }
    this.lastStage = event.stage;
  }

  done(message: string): void {
    process.stderr.write(this.tty ? `\r\x1b[K${this.prefix} ${message}\n` : `${this.prefix} ${message}\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseCli(argv);
  } catch (err) {
    const reason = err instanceof UsageError ? err.message : userMessage(err);
    process.stderr.write(`animefy: ${reason}\nTry 'animefy --help'.\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let config;
  try {
    config = getConfig();
  } catch (err) {
    process.stderr.write(`animefy: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    return 2;
  }
  if (!process.env.LOG_LEVEL) setLogLevel('warn');
  const image = ImagePipeline.fromConfig(config);
  const pipelines: Pipelines = { image, media: MediaPipeline.fromConfig(config, image) };

  if (options === 'list-styles') {
    process.stdout.write(`${listStyles(image)}\n`);
    return 0;
  }

  const many = options.inputs.length > 1;
  if (options.out && many) await fs.mkdir(options.out, { recursive: true });
  let failures = 0;
  try {
    for (const [index, input] of options.inputs.entries()) {
      const line = new ProgressLine(`[${index + 1}/${options.inputs.length}] ${path.basename(input)}`);
      try {
        const bytes = await readInput(input);
        const target = await outFile(options.out, many);
        const result = await animefyAny(pipelines, bytes, {
          ...options.request,
          style: options.style,
          format: wantedFormats(input, options.request.mode, target, options.request.operation),
          onProgress: (e) => line.update(e),
        });
        const file = outputPathFor(input, options.style, options.request.mode, result.format, options.out, target, options.request);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, result.data);
        const points = options.points && (await writePoints(options.points, input, result, many));
        line.done(`→ ${file} (${result.width}x${result.height}, ${summary(result)}, ${(result.timings.total / 1000).toFixed(1)} s)`);
        for (const note of result.notes) process.stderr.write(`  note: ${note}\n`);
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({
              input,
              output: file,
              width: result.width,
              height: result.height,
              style: result.style,
              mode: result.mode,
              kind: result.operation === 'sticker' || result.operation === 'emoji' ? result.operation : result.kind,
              ...(result.operation ? { operation: result.operation } : {}),
              faces: result.faces,
              faceBoxes: result.faceBoxes,
              ...(result.people ? { people: result.people } : {}),
              ...(result.chosen ? { chosen: result.chosen } : {}),
              ...(result.media ? { media: result.media } : {}),
              ...(points ? { points } : {}),
              timings: result.timings,
            })}\n`,
          );
        }
      } catch (err) {
        failures++;
        if (!isAnimefyError(err) && !(err instanceof InputFileError)) {
          getLogger().error({ err, input: path.basename(input) }, 'pipeline failed');
        }
        line.done(`failed: ${oneLine(err)}`);
        if (options.json) process.stdout.write(`${JSON.stringify({ input, error: errorCode(err), message: oneLine(err) })}\n`);
      }
    }
  } finally {
    await image.dispose();
  }
  return failures > 0 ? 1 : 0;
}

/**
 * landmarks --points: `{input, width, height, faces: [{frame, id, box, points, keypoints, kind}]}`
 * (points null where they were not trusted). With several inputs, one file per input beside --points.
 */
async function writePoints(points: string, input: string, result: AnyResult, many: boolean): Promise<string> {
  const file = many ? path.join(path.dirname(points), `${path.basename(input, path.extname(input))}.${path.basename(points)}`) : points;
  const body = { input, width: result.width, height: result.height, frames: result.media?.frames ?? 1, faces: result.landmarks ?? [] };
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(body)}\n`);
  return file;
}

async function readInput(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputFileError(
      code === 'ENOENT' ? `no such file: ${file}` : code === 'EISDIR' ? `${file} is a directory` : `cannot read ${file} (${code})`,
    );
  }
}

function oneLine(err: unknown): string {
  const text = err instanceof InputFileError ? err.message : userMessage(err);
  return text.replace(/\s+/g, ' ').trim();
}

function errorCode(err: unknown): string {
  if (err instanceof InputFileError) return 'INPUT_UNREADABLE';
  return isAnimefyError(err) ? err.code : 'INTERNAL';
}
