/**
 * Fetches a Telegram file by file_id: getFile, then `<apiRoot>/file/bot<token>/<file_path>` over http
 * or https (a self-hosted Bot API server in --local mode answers with an absolute path on its disk,
 * which is read directly). The size is checked before anything is fetched and again while streaming
 * (fetch-media.ts). The URL holds the token: it is never logged.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { GrammyError, type Api } from 'grammy';
import { AnimefyError } from '../../errors.ts';
import { downloadTooLarge, fetchMedia } from '../fetch-media.ts';
import type { MediaRef } from './media.ts';

export interface DownloadOptions {
  api: Api;
  apiRoot: string;
  token: string;
  maxBytes: number;
  signal?: AbortSignal;
  /** Whole download, in ms. */
  timeoutMs?: number;
}

/** The size Telegram reported with the message, checked before anything else is done with it. */
export function checkDeclaredSize(media: MediaRef, maxBytes: number): void {
  if (media.fileSize !== undefined && media.fileSize > maxBytes) throw downloadTooLarge(media.fileSize, maxBytes);
}

export async function downloadFile(media: MediaRef, options: DownloadOptions): Promise<Buffer> {
  const { maxBytes } = options;
  const tooLarge = (size: number) => downloadTooLarge(size, maxBytes);
  checkDeclaredSize(media, maxBytes);

  let file;
  try {
    file = await options.api.getFile(media.fileId);
  } catch (err) {
    if (err instanceof GrammyError && /file is too big/i.test(err.description)) throw tooLarge(media.fileSize ?? maxBytes + 1);
    throw new AnimefyError('DOWNLOAD_FAILED', {}, { cause: err });
  }
  if (file.file_size !== undefined && file.file_size > maxBytes) throw tooLarge(file.file_size);
  if (!file.file_path) throw new AnimefyError('DOWNLOAD_FAILED', {}, { cause: 'getFile returned no file_path' });

  if (path.isAbsolute(file.file_path)) return readLocalFile(file.file_path, maxBytes, tooLarge);

  const url = `${options.apiRoot}/file/bot${options.token}/${file.file_path.split('/').map(encodeURIComponent).join('/')}`;
  return fetchMedia(url, { maxBytes, signal: options.signal, timeoutMs: options.timeoutMs });
}

async function readLocalFile(file: string, maxBytes: number, tooLarge: (size: number) => AnimefyError): Promise<Buffer> {
  try {
    const { size } = await fs.stat(file);
    if (size > maxBytes) throw tooLarge(size);
    return await fs.readFile(file);
  } catch (err) {
    if (err instanceof AnimefyError) throw err;
    throw new AnimefyError('DOWNLOAD_FAILED', {}, { cause: `local file unreadable: ${(err as NodeJS.ErrnoException).code}` });
  }
}
