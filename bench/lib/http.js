// One small HTTP GET for health polls, fault triggers and the closed-loop loads: never throws, always
// settles within its timeout, and says how it ended ({ status } or { error: 'timeout' | code }) and on
// which local port (the soak matches it with the connection log of the worker that got it).

import { get } from 'node:http';

/** `signal` (an AbortSignal) ends the request at once with { error: 'aborted' }: a run that is over cuts its long polls. */
export function httpGet(url, { timeoutMs = 2000, agent = false, headers = {}, signal } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    let isDone = false;
    let localPort;
    let abort;
    const finish = (result) => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      if (abort !== undefined) signal.removeEventListener('abort', abort);
      resolve({ ...result, startedAt: started, ms: performance.now() - started, localPort });
    };
    const request = get(url, { agent, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => finish({ status: response.statusCode, body, pid: Number(response.headers['x-pid'] ?? 0) || undefined }));
      response.on('error', (error) => finish({ error: error.code ?? error.message }));
    });
    request.on('error', (error) => finish({ error: error.code ?? error.message }));
    request.on('socket', (socket) => {
      // A reused keep-alive socket is connected already; a new one gets its port on 'connect'.
      localPort = socket.localPort;
      if (localPort === undefined) socket.once('connect', () => (localPort = socket.localPort));
    });
    const timer = setTimeout(() => {
      finish({ error: 'timeout' });
      request.destroy();
    }, timeoutMs);
    if (signal !== undefined) {
      const onAbort = () => {
        finish({ error: 'aborted' });
        request.destroy();
      };
      if (signal.aborted) onAbort();
      else {
        abort = onAbort;
        signal.addEventListener('abort', abort, { once: true });
      }
    }
  });
}

/** GET until `accept(result)` is true, every `intervalMs`, or throw after `timeoutMs`. */
export async function pollUntil(url, accept, { timeoutMs = 15000, intervalMs = 100, what = url } = {}) {
  const deadline = performance.now() + timeoutMs;
  let last;
  while (performance.now() < deadline) {
    last = await httpGet(url, { timeoutMs: 1000 });
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms (last answer: ${JSON.stringify(last)})`);
}
