/**
 * Closes a fake's HTTP server: idle keep-alive connections at once, the rest after 500 ms (a client
 * still holding a long poll or a stream must not keep a test file from finishing).
 */
import type { Server } from 'node:http';

export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 500);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    setImmediate(() => server.closeIdleConnections());
  });
}
