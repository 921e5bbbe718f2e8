// NestJS 11 under warden, in both shapes: main.cjs calls app.listen(PORT) itself (warden waits for
// it, however long the bootstrap takes, up to --boot-timeout), and factory.mjs returns
// app.getHttpServer() for --factory.

import { before, test } from 'node:test';
import { ctrlCWithRequestsInFlight, install, serveReloadStop } from './lib.mjs';

before(() => install('nestjs'));

test('self-listening main.cjs: 2 workers, 5 reloads under load fail no request, SIGTERM exits 0', async (t) => {
  await serveReloadStop(t, 'nestjs', ['main.cjs'], { reloads: 5 });
});

test('--factory with getHttpServer(): 2 workers, reloads under load fail no request, SIGTERM exits 0', async (t) => {
  await serveReloadStop(t, 'nestjs', ['factory.mjs', '--factory']);
});

test('self-listening main.cjs: Ctrl-C with 4 slow requests in flight finishes all 4 and exits 0', async (t) => {
  await ctrlCWithRequestsInFlight(t, 'nestjs', ['main.cjs'], '/slow?ms=2000');
});
