// `warden systemd` builders, pure: the settings systemd needs for warden's stop, reload, readiness and
// watchdog, the hardening, the socket unit with --socket, quoting of ExecStart words, and every bad
// input refused by flag. `systemd-analyze verify` runs on the same output in test/integration/systemd.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWardenError } from '../../src/errors.js';
import { resolveSystemdConfig, type SystemdInput } from '../../src/systemd/config.js';
import { buildUnits, quoteWord } from '../../src/systemd/units.js';

const BASE: SystemdInput = {
  flags: { name: 'shop' },
  serve: {},
  app: '/srv/shop/app.js',
  appArgs: [],
  command: ['/usr/bin/node', '/srv/shop/node_modules/warden/bin/warden.js'],
  workingDirectory: '/srv/shop',
};

function units(input: Partial<SystemdInput> = {}) {
  return buildUnits(resolveSystemdConfig({ ...BASE, ...input, flags: { ...BASE.flags, ...input.flags } }));
}

/** Every value of `key` in the unit text, in order. */
function settings(text: string, key: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${key}=`)).map((line) => line.slice(key.length + 1));
}

function one(text: string, key: string): string | undefined {
  const values = settings(text, key);
  assert.ok(values.length <= 1, `${key}= appears at most once (got ${values.length})`);
  return values[0];
}

test('the service unit is Type=notify, reloads with SIGHUP, restarts on failure, runs as a dedicated user', () => {
  const [service] = units();
  assert.equal(service?.fileName, 'shop.service');
  const text = service?.text ?? '';
  assert.equal(one(text, 'Type'), 'notify');
  assert.equal(one(text, 'NotifyAccess'), 'all', 'systemd-notify is a child of the primary');
  assert.equal(one(text, 'ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one(text, 'Restart'), 'on-failure');
  assert.equal(one(text, 'RestartPreventExitStatus'), '2', 'a usage error is not restarted');
  assert.equal(one(text, 'User'), 'shop');
  assert.equal(one(text, 'Group'), 'shop');
  assert.equal(one(text, 'WorkingDirectory'), '/srv/shop');
  assert.equal(one(text, 'WatchdogSec'), '30');
  assert.deepEqual(settings(text, 'WantedBy'), ['multi-user.target']);
});

test('a stop lets warden drain: SIGTERM to the primary only, TimeoutStopSec is --graceful-timeout plus 5 s', () => {
  const defaults = units()[0]?.text ?? '';
  assert.equal(one(defaults, 'KillMode'), 'mixed');
  assert.equal(one(defaults, 'KillSignal'), 'SIGTERM');
  assert.equal(one(defaults, 'TimeoutStopSec'), '35');
  const custom = units({ serve: { gracefulTimeout: '12.5' } })[0]?.text ?? '';
  assert.equal(one(custom, 'TimeoutStopSec'), '18', '12.5 s rounded up, plus 5');
  assert.match(one(custom, 'ExecStart') ?? '', / --graceful-timeout 12\.5 /);
});

test('hardening: NoNewPrivileges, ProtectSystem=strict, private /tmp, and no MemoryDenyWriteExecute (V8 JIT)', () => {
  const text = units()[0]?.text ?? '';
  assert.equal(one(text, 'NoNewPrivileges'), 'yes');
  assert.equal(one(text, 'ProtectSystem'), 'strict');
  assert.equal(one(text, 'ProtectHome'), 'yes');
  assert.equal(one(text, 'PrivateTmp'), 'yes');
  assert.equal(one(text, 'MemoryDenyWriteExecute'), undefined);
  assert.equal(one(text, 'RuntimeDirectory'), 'shop');
  const home = units({ app: '/home/ann/shop/app.js', workingDirectory: '/home/ann/shop' })[0]?.text ?? '';
  assert.equal(one(home, 'ProtectHome'), 'read-only', 'an app under /home stays readable');
});

test('ExecStart runs this warden on the app with the serve flags given, the control socket in the runtime directory', () => {
  const text = units({ serve: { workers: 'auto', port: '8080', maxMemory: '512M', reloadInclude: ['**/*.js', '**/*.json'] }, appArgs: ['--db', 'my db.json'] })[0]?.text ?? '';
  assert.equal(one(text, 'ExecStart'),
    '/usr/bin/node /srv/shop/node_modules/warden/bin/warden.js serve /srv/shop/app.js --workers auto --port 8080 --max-memory 512M ' +
    '--reload-include "**/*.js" --reload-include "**/*.json" --control /run/shop/control.sock -- --db "my db.json"');
  const own = units({ serve: { control: '/var/lib/shop/warden.sock' } })[0]?.text ?? '';
  assert.doesNotMatch(one(own, 'ExecStart') ?? '', /\/run\/shop/);
  assert.equal(one(own, 'ReadWritePaths'), '/var/lib/shop', 'ProtectSystem=strict leaves the control socket\'s directory writable');
});

test('quoting: "%" and "$" are doubled, spaces and quotes are double-quoted', () => {
  assert.equal(quoteWord('/srv/app.js'), '/srv/app.js');
  assert.equal(quoteWord('50%'), '50%%');
  assert.equal(quoteWord('$HOME'), '$$HOME');
  assert.equal(quoteWord('a b'), '"a b"');
  assert.equal(quoteWord('say "hi"\\'), '"say \\"hi\\"\\\\"');
  assert.equal(quoteWord(''), '""');
});

test('--socket adds a .socket unit on --host:--port named "service", and the service requires it', () => {
  const all = units({ flags: { socket: true }, serve: { host: '0.0.0.0', port: '8443' } });
  assert.deepEqual(all.map((unit) => unit.fileName), ['shop.service', 'shop.socket']);
  const [service, socket] = all.map((unit) => unit.text);
  assert.equal(one(socket ?? '', 'ListenStream'), '0.0.0.0:8443');
  assert.equal(one(socket ?? '', 'FileDescriptorName'), 'service');
  assert.equal(one(socket ?? '', 'Service'), 'shop.service');
  assert.deepEqual(settings(socket ?? '', 'WantedBy'), ['sockets.target']);
  assert.equal(one(service ?? '', 'Requires'), 'shop.socket');
  assert.ok(settings(service ?? '', 'After').includes('shop.socket'));
  const ipv6 = units({ flags: { socket: true }, serve: { host: '::1' } })[1]?.text ?? '';
  assert.equal(one(ipv6, 'ListenStream'), '[::1]:8000');
  const uds = units({ flags: { socket: true }, serve: { uds: '/run/shop.sock', udsMode: '660' } })[1]?.text ?? '';
  assert.equal(one(uds, 'ListenStream'), '/run/shop.sock');
  assert.equal(one(uds, 'SocketMode'), '0660');
  assert.equal(units()[1], undefined, 'no socket unit without --socket');
  const backlog = units({ flags: { socket: true }, serve: { backlog: '2048' } })[1]?.text ?? '';
  assert.equal(one(backlog, 'Backlog'), '2048', '--backlog sets the socket unit\'s Backlog= too');
});

test('--admin-socket adds NAME-admin.socket on the admin port, named "admin"; the service requires both sockets', () => {
  const all = units({ flags: { socket: true, adminSocket: true }, serve: { adminPort: '9100' } });
  assert.deepEqual(all.map((unit) => unit.fileName), ['shop.service', 'shop.socket', 'shop-admin.socket']);
  const admin = all[2]?.text ?? '';
  assert.equal(one(admin, 'ListenStream'), '127.0.0.1:9100');
  assert.equal(one(admin, 'FileDescriptorName'), 'admin');
  assert.equal(one(all[0]?.text ?? '', 'Requires'), 'shop.socket shop-admin.socket');
  assert.throws(() => units({ flags: { adminSocket: true } }), /--admin-socket needs --socket/);
});

test('--watchdog 0 leaves WatchdogSec out; --watchdog N sets it', () => {
  assert.equal(one(units({ flags: { watchdog: '0' } })[0]?.text ?? '', 'WatchdogSec'), undefined);
  assert.equal(one(units({ flags: { watchdog: '10' } })[0]?.text ?? '', 'WatchdogSec'), '10');
});

const BAD: [string, Partial<SystemdInput>, RegExp][] = [
  ['no --name', { flags: { name: '' } }, /--name is required/],
  ['a --name with a slash', { flags: { name: 'a/b' } }, /--name must be a unit name/],
  ['a --user that is not a user name', { flags: { user: 'Ann Smith' } }, /--user must be/],
  ['root as --user', { flags: { user: 'root' } }, /--user must be a dedicated user/],
  ['a bad --watchdog', { flags: { watchdog: '-1' } }, /--watchdog must be/],
  ['a serve flag warden serve refuses', { serve: { workers: '-2' } }, /--workers must be a positive integer/],
  ['--reload in a unit', { serve: { reload: true } }, /--reload/],
  ['--socket with --port 0', { flags: { socket: true }, serve: { port: '0' } }, /--port must be a fixed port/],
  ['a relative command', { command: ['node', 'warden.js'] }, /absolute paths/],
];

for (const [name, input, message] of BAD) {
  test(`refused: ${name}`, () => {
    assert.throws(() => units(input), (error: unknown) => isWardenError(error) && message.test(error.message));
  });
}
