/**
 * Encode stage: 8-bit RGB (optionally with alpha) → PNG, JPEG or WebP bytes.
 */
import path from 'node:path';
import sharp from 'sharp';

export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function isOutputFormat(value: unknown): value is OutputFormat {
  return typeof value === 'string' && (OUTPUT_FORMATS as readonly string[]).includes(value);
}

export interface EncodeInput {
  width: number;
  height: number;
  rgb: Buffer;
  /** One byte per pixel; dropped for JPEG. */
  alpha?: Buffer;
}

export async function encodeImage(input: EncodeInput, format: OutputFormat, quality = 92): Promise<Buffer> {
  const { width, height } = input;
  let pixels = input.rgb;
  let channels: 3 | 4 = 3;
  if (input.alpha && format !== 'jpeg') {
    pixels = Buffer.allocUnsafe(width * height * 4);
    for (let p = 0, i = 0, o = 0; p < width * height; p++, i += 3, o += 4) {
      pixels[o] = input.rgb[i];
      pixels[o + 1] = input.rgb[i + 1];
      pixels[o + 2] = input.rgb[i + 2];
      pixels[o + 3] = input.alpha[p];
    }
    channels = 4;
  }
  const img = sharp(pixels, { raw: { width, height, channels } });
  switch (format) {
    case 'png':
      return img.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    case 'jpeg':
      return img.jpeg({ quality, mozjpeg: false, chromaSubsampling: '4:4:4' }).toBuffer();
    case 'webp':
      return img.webp({ quality, effort: 4 }).toBuffer();
  }
}

/** The format a file name asks for (by extension), or undefined when it names none we write. */
export function formatFromPath(file: string): OutputFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  if (ext === '.webp') return 'webp';
  return undefined;
}

export const FORMAT_EXTENSIONS: Record<OutputFormat, string> = { png: '.png', jpeg: '.jpg', webp: '.webp' };
export const FORMAT_MIME: Record<OutputFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
