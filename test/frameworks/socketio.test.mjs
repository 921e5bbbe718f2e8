// socket.io 4.8 under warden with --sticky: a long-polling session (several HTTP requests per
// session) stays on one worker; reloads, Ctrl-C and SIGTERM behave as for any HTTP app.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { startWarden } from '../../dist/test/integration/harness.js';
import { ctrlCWithRequestsInFlight, exampleDir, install, run, serveReloadStop } from './lib.mjs';

before(() => install('socketio'));

test('a long-polling client under --sticky is answered by one worker for its whole session', async (t) => {
  const warden = await startWarden(t, ['server.cjs', '--workers', '2', '--sticky'], { cwd: exampleDir('socketio') });
  for (let client = 1; client <= 3; client++) {
    const line = JSON.parse(run('socketio', process.execPath, ['client.cjs', `http://127.0.0.1:${warden.port}`, '10']).trim());
    assert.equal(line.ok, true, `client ${client} connected`);
    assert.equal(line.pids.length, 1, `client ${client}: one worker answered the whole session (${line.pids.join(', ')})`);
  }
  warden.child.kill('SIGTERM');
  assert.equal((await warden.exit()).code, 0);
});

test('--sticky: 2 workers, reloads under load fail no request, SIGTERM exits 0', async (t) => {
  await serveReloadStop(t, 'socketio', ['server.cjs', '--sticky']);
});

test('--sticky: Ctrl-C with 4 slow requests in flight finishes all 4 and exits 0', async (t) => {
  await ctrlCWithRequestsInFlight(t, 'socketio', ['server.cjs', '--sticky'], '/slow?ms=2000');
});
