/**
 * The HTTP endpoint for operators: `GET /metrics` (Prometheus text) and `GET /healthz` (JSON, 200 or
 * 503). Plain `node:http`, no framework. Started by a process that sets ANIMEFY_METRICS_PORT; listen on
 * ANIMEFY_METRICS_HOST (127.0.0.1 by default, 0.0.0.0 inside containers).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorText, withTimeout } from '../errors.ts';
import { childLogger } from '../log.ts';

export interface HealthReport {
  ok: boolean;
  /** Merged into the JSON body (e.g. `{ backend, queued, running, workers, redis }`). */
  details: Record<string, unknown>;
}

export interface MetricsServerOptions {
  /** 0 picks a free port (tests); the chosen one is in the result. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  registry: Registry;
  health: () => Promise<HealthReport>;
  /** A health check slower than this answers 503 (default 2000 ms). */
  healthTimeoutMs?: number;
}

export interface MetricsServer {
  /** The port actually listened on. */
  readonly port: number;
  /** Stops listening; requests in progress finish first. */
  close(): Promise<void>;
}

const ROUTES = new Set(['/metrics', '/healthz']);

function warn(message: string, err: unknown): void {
  try {
    childLogger({ module: 'metrics-server' }).warn({ err: errorText(err) }, message);
  } catch {
    // never let logging take the endpoint down
  }
}

function send(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': String(buf.length),
    'Cache-Control': 'no-store',
    ...extraHeaders,
  });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

async function checkHealth(
  health: () => Promise<HealthReport>,
  timeoutMs: number,
): Promise<{ status: 200 | 503; body: string }> {
  let report: HealthReport;
  try {
    report = await withTimeout(Promise.resolve().then(health), timeoutMs, 'the health check');
  } catch (err) {
    return { status: 503, body: JSON.stringify({ status: 'unhealthy', error: errorText(err) }) };
  }
  const ok = report?.ok === true;
  const status = ok ? 'ok' : 'unhealthy';
  const { status: _ignored, ...details } = (report?.details ?? {}) as Record<string, unknown>;
  try {
    return { status: ok ? 200 : 503, body: JSON.stringify({ status, ...details }) };
  } catch (err) {
    // details that JSON cannot write (a BigInt, a cycle): keep the verdict, drop the details
    return {
      status: ok ? 200 : 503,
      body: JSON.stringify({ status, error: `health details not serialisable: ${(err as Error).message}` }),
    };
  }
}

export function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, health } = options;
  const host = options.host ?? '127.0.0.1';
  const healthTimeoutMs = options.healthTimeoutMs ?? 2000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      send(req, res, 400, TEXT, 'bad request\n');
      return;
    }
    if (!ROUTES.has(pathname)) {
      send(req, res, 404, TEXT, 'not found: try /metrics or /healthz\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 405, TEXT, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (pathname === '/metrics') {
      let body: string;
      try {
        body = await registry.metrics();
      } catch (err) {
        warn('collecting metrics failed', err);
        send(req, res, 500, TEXT, 'collecting metrics failed\n');
        return;
      }
      send(req, res, 200, registry.contentType, body);
      return;
    }
    const result = await checkHealth(health, healthTimeoutMs);
    send(req, res, result.status, JSON_TYPE, `${result.body}\n`);
  }

  const server = http.createServer((req, res) => {
    // The request body is never used: drain it so a client sending one does not stall.
    req.resume();
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    handle(req, res).catch((err: unknown) => {
      warn('metrics endpoint request failed', err);
      try {
        send(req, res, 500, TEXT, 'internal error\n');
      } catch {
        res.destroy();
      }
    });
  });
  // Malformed HTTP: answer 400 when the socket can still take it, never throw.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return new Promise((resolve, reject) => {
    const onListenError = (err: Error) => reject(err);
    server.once('error', onListenError);
    server.listen(options.port, host, () => {
      server.off('error', onListenError);
      server.on('error', (err) => warn('metrics endpoint error', err));
      const port = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        port,
        close() {
          closing ??= new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            server.closeIdleConnections();
          });
          return closing;
        },
      });
    });
  });
}
