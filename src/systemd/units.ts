// Pure builders for `warden systemd`: a SystemdConfig -> the text of a .service unit and, with
// --socket, of a matching .socket unit. No I/O: the CLI prints, the tests run systemd-analyze verify.

import { EXIT_CODES } from '../errors.js';
import { FD_NAMES, type SystemdConfig } from './config.js';

export interface UnitFile {
  /** "my-app.service", "my-app.socket". */
  fileName: string;
  text: string;
}

/**
 * One word of a command line in systemd's syntax (systemd.service(5), "Command lines"): "%" is a
 * specifier and "$" a variable unless doubled; anything with spaces, quotes or backslashes is
 * double-quoted with C-style escapes.
 */
export function quoteWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && /^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** A value for a setting that takes one path or word, where only "%" is special. */
function specifierSafe(text: string): string {
  return text.replace(/%/g, '%%');
}

function section(name: string, lines: readonly (string | undefined)[]): string {
  return `[${name}]\n${lines.filter((line): line is string => line !== undefined).join('\n')}\n`;
}

export function buildService(config: SystemdConfig): UnitFile {
  const socketUnit = config.socket === undefined ? undefined : [`${config.name}.socket`, ...(config.adminSocket === undefined ? [] : [`${config.name}-admin.socket`])].join(' ');
  const unit = section('Unit', [
    `Description=${specifierSafe(config.description)}`,
    'Documentation=man:systemd.service(5)',
    'After=network-online.target',
    'Wants=network-online.target',
    socketUnit === undefined ? undefined : `Requires=${socketUnit}`,
    socketUnit === undefined ? undefined : `After=${socketUnit}`,
  ]);
  const service = section('Service', [
    // warden says READY=1 once /readyz would first answer 200, RELOADING=1 around a rolling reload,
    // STOPPING=1 when it drains, WATCHDOG=1 from the primary's event loop.
    'Type=notify',
    // The messages are sent by systemd-notify, a child of the primary (Node has no unix datagram
    // socket), so systemd must accept them from any process of the service.
    'NotifyAccess=all',
    `ExecStart=${config.execStart.map(quoteWord).join(' ')}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    `WorkingDirectory=${specifierSafe(config.workingDirectory)}`,
    `User=${config.user}`,
    `Group=${config.group}`,
    // SIGTERM to the primary only: it drains and stops its workers itself; what is left when
    // TimeoutStopSec runs out (warden's --graceful-timeout plus a margin) gets SIGKILL.
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${config.timeoutStopS}`,
    'Restart=on-failure',
    `RestartSec=${config.restartSec}`,
    // A usage or configuration error does not go away by restarting.
    `RestartPreventExitStatus=${EXIT_CODES.usage}`,
    config.watchdogS > 0 ? `WatchdogSec=${config.watchdogS}` : undefined,
    `RuntimeDirectory=${config.name}`,
    'RuntimeDirectoryMode=0700',
    // Hardening. Not MemoryDenyWriteExecute: V8's JIT writes executable memory.
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    `ProtectHome=${config.appUnderHome ? 'read-only' : 'yes'}`,
    config.readWritePaths.length > 0 ? `ReadWritePaths=${config.readWritePaths.map(quoteWord).join(' ')}` : undefined,
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
  ]);
  const install = section('Install', ['WantedBy=multi-user.target']);
  return { fileName: `${config.name}.service`, text: [unit, service, install].join('\n') };
}

export function buildSocket(config: SystemdConfig): UnitFile | undefined {
  if (config.socket === undefined) return undefined;
  const unit = section('Unit', [`Description=${specifierSafe(config.description)} (listening socket)`]);
  const socket = section('Socket', [
    `ListenStream=${specifierSafe(config.socket.listen)}`,
    // warden picks its listener by this name in LISTEN_FDNAMES.
    `FileDescriptorName=${FD_NAMES.service}`,
    config.socket.mode === undefined ? undefined : `SocketMode=${config.socket.mode}`,
    config.socket.backlog === undefined ? undefined : `Backlog=${config.socket.backlog}`,
    `Service=${config.name}.service`,
  ]);
  const install = section('Install', ['WantedBy=sockets.target']);
  return { fileName: `${config.name}.socket`, text: [unit, socket, install].join('\n') };
}

/** --admin-socket: the admin port passed as well, named "admin", so /readyz answers across a restart too. */
export function buildAdminSocket(config: SystemdConfig): UnitFile | undefined {
  if (config.adminSocket === undefined) return undefined;
  const unit = section('Unit', [`Description=${specifierSafe(config.description)} (admin socket)`]);
  const socket = section('Socket', [
    `ListenStream=${specifierSafe(config.adminSocket.listen)}`,
    `FileDescriptorName=${FD_NAMES.admin}`,
    `Service=${config.name}.service`,
  ]);
  const install = section('Install', ['WantedBy=sockets.target']);
  return { fileName: `${config.name}-admin.socket`, text: [unit, socket, install].join('\n') };
}

export function buildUnits(config: SystemdConfig): UnitFile[] {
  return [buildService(config), buildSocket(config), buildAdminSocket(config)].filter((unit): unit is UnitFile => unit !== undefined);
}
