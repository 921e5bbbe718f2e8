// The CLI side of the control channel: send one request to a running primary and read its replies.
// It prints nothing and exits nothing (cli/ does); failures are WardenErrors that name the path tried.

import { connect } from 'node:net';
import { WardenError, errnoCode } from '../errors.js';
import { parseControlReply, type ControlReply, type ControlRequest } from './protocol.js';

export async function sendControl(
  path: string,
  request: ControlRequest,
  onProgress: (message: string) => void,
  timeoutMs: number,
): Promise<Extract<ControlReply, { type: 'done' }>> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    let finished = false;
    const finish = (error: Error | undefined, reply?: Extract<ControlReply, { type: 'done' }>) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(reply as Extract<ControlReply, { type: 'done' }>);
    };
    const timer = setTimeout(() => {
      finish(new WardenError('WARDEN_CONTROL', `no answer from the warden at ${path} within ${Math.round(timeoutMs / 1000)}s`, {
        hint: 'the primary may be overloaded; see its log, or GET /workers on its admin port',
      }));
    }, timeoutMs);
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const reply = parseControlReply(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        if (reply === undefined) continue;
        if (reply.type === 'progress') onProgress(reply.message);
        else finish(undefined, reply);
      }
    });
    socket.once('error', (error) => {
      const code = errnoCode(error);
      const reason = code === 'ENOENT' ? 'no such socket' : code === 'ECONNREFUSED' ? 'nobody is listening on it (a warden that is gone)' : (error as Error).message;
      finish(new WardenError('WARDEN_CONTROL', `cannot reach a running warden at ${path}: ${reason}`, {
        hint: 'start one with `warden serve`, or point at it with --control PATH (or --port N of the warden you mean)',
      }));
    });
    socket.once('close', () => finish(new WardenError('WARDEN_CONTROL', `the warden at ${path} closed the connection without an answer`, {
      hint: 'see the primary\'s log',
    })));
  });
}
