/**
 * Downloads one media file over http(s) for a bot, with a hard size limit: the declared
 * Content-Length is checked first and the body is counted while it streams, so a lying server
 * cannot make the bot buffer more than `maxBytes`. Redirects are refused (a URL that was checked
 * against an allow-list stays the URL that is fetched). URLs may hold secrets (Telegram's carry the
 * token, Discord's are signed): they are never put into errors or logs.
 */
import { AnimefyError, formatBytes } from '../errors.ts';

export interface FetchMediaOptions {
  maxBytes: number;
  signal?: AbortSignal;
  /** Whole download, in ms (default 2 minutes). */
  timeoutMs?: number;
}

export function downloadTooLarge(size: number, maxBytes: number): AnimefyError {
  return new AnimefyError('DOWNLOAD_TOO_LARGE', { size: formatBytes(size), limit: formatBytes(maxBytes) });
}

export async function fetchMedia(url: string, options: FetchMediaOptions): Promise<Buffer> {
  const { maxBytes } = options;
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 120_000)];
  if (options.signal) signals.push(options.signal);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.any(signals), redirect: 'error' });
  } catch (err) {
    if (options.signal?.aborted) throw new AnimefyError('CANCELLED');
    throw new AnimefyError('DOWNLOAD_FAILED', {}, { cause: `fetch failed: ${(err as Error).name}` });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    // The status travels as a param (not shown to users): a platform may say more (Discord: 403/404 = the file is gone).
    throw new AnimefyError('DOWNLOAD_FAILED', { status: response.status }, { cause: `file download answered HTTP ${response.status}` });
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body.cancel();
    throw downloadTooLarge(declared, maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > maxBytes) throw downloadTooLarge(total, maxBytes);
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof AnimefyError) throw err;
    if (options.signal?.aborted) throw new AnimefyError('CANCELLED');
    throw new AnimefyError('DOWNLOAD_FAILED', {}, { cause: `download interrupted: ${(err as Error).name}` });
  }
  return Buffer.concat(chunks, total);
}
