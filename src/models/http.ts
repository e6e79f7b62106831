/**
 * Downloads: a streaming HTTP GET with a timeout for the response headers and an idle timeout
 * between body pieces, and network errors turned into short readable reasons.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export interface HttpOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

/** GETs `url` and yields the body, with a header timeout and an idle timeout between body pieces. */
export async function* httpBody(url: string, options: HttpOptions): AsyncGenerator<Uint8Array> {
  const controller = new AbortController();
  let reason: Error | undefined;
  const abortAfter = (ms: number, message: string) =>
    setTimeout(() => {
      reason = new Error(message);
      controller.abort(reason);
    }, ms);
  let timer = abortAfter(options.connectTimeoutMs, `no response within ${options.connectTimeoutMs / 1000} s`);
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      throw reason ?? new Error(describeNetworkError(err));
    }
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    if (!response.body) throw new Error('empty response');
    const idle = `the download stalled (no data for ${options.idleTimeoutMs / 1000} s)`;
    clearTimeout(timer);
    timer = abortAfter(options.idleTimeoutMs, idle);
    try {
      for await (const chunk of Readable.fromWeb(response.body as WebReadableStream<Uint8Array>)) {
        clearTimeout(timer);
        timer = abortAfter(options.idleTimeoutMs, idle);
        yield chunk as Uint8Array;
      }
    } catch (err) {
      throw reason ?? new Error(describeNetworkError(err));
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return (err as Error).message ?? String(err);
}
