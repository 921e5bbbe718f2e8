// `warden systemd` flags -> a checked SystemdConfig: the unit's own flags (name, user, socket,
// watchdog) validated here, every `warden serve` flag checked by the serve option table's own parser
// so that a unit never carries a flag `warden serve` would refuse. Pure: no I/O (the CLI passes the
// command, the working directory and absolute paths in).

import { WardenError } from '../errors.js';
import { SERVE_OPTIONS, flagName, takesValue, type OptionSpec, type ParseContext } from '../config/options.js';
import { optionName } from '../config/resolve.js';
export { FD_NAMES } from '../os/sd-notify.js';

export const SYSTEMD_DEFAULTS = {
  watchdogS: 30,
  host: '127.0.0.1',
  port: 8000,
  gracefulTimeoutS: 30,
  restartSec: 1,
};

/** Seconds systemd waits after warden's own graceful timeout before it SIGKILLs what is left. */
export const STOP_MARGIN_S = 5;

export type ServeFlags = Record<string, string | boolean | string[] | undefined>;

export interface SystemdFlags {
  name?: string;
  description?: string;
  user?: string;
  group?: string;
  socket?: boolean;
  adminSocket?: boolean;
  watchdog?: string;
}

export interface SystemdInput {
  flags: SystemdFlags;
  /** `warden serve` flags as commander gives them (camelCase keys), only those the user gave. */
  serve: ServeFlags;
  /** The app module, resolved to an absolute path by the CLI. */
  app: string;
  /** The app's own arguments (after --). */
  appArgs: readonly string[];
  /** How to run warden: [node, /abs/bin/warden.js], both absolute. */
  command: readonly string[];
  workingDirectory: string;
}

export interface SystemdConfig {
  name: string;
  description: string;
  user: string;
  group: string;
  /** ExecStart's words, not yet quoted for systemd. */
  execStart: string[];
  workingDirectory: string;
  /** 0: no watchdog. */
  watchdogS: number;
  timeoutStopS: number;
  restartSec: number;
  /** With --admin-socket: what NAME-admin.socket listens on (the admin server's host:port). */
  adminSocket: { listen: string } | undefined;
  /** With --socket: what the .socket unit listens on. */
  socket: { listen: string; mode: string | undefined; backlog: number | undefined } | undefined;
  /** Paths the service must write despite ProtectSystem=strict. */
  readWritePaths: string[];
  /** The app lives under /home: ProtectHome=read-only instead of yes. */
  appUnderHome: boolean;
}

function usage(flag: string, rule: string, raw: string, hint?: string): WardenError {
  return new WardenError('WARDEN_USAGE', `${flag} must be ${rule} (got "${raw}")`, hint === undefined ? {} : { hint });
}

// systemd unit names: letters, digits and ":-_.\"; warden keeps to a portable subset.
const UNIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// useradd's rule for a system user name (NAME_REGEX_SYSTEM on Debian): lowercase, may end in "$".
const USER_NAME = /^[a-z_][a-z0-9_-]{0,30}\$?$/;

function serveSpecs(): readonly OptionSpec[] {
  return SERVE_OPTIONS as readonly OptionSpec[];
}

/** The serve flags given, each checked by its own parser, as words for ExecStart. */
function serveArgs(serve: ServeFlags): { args: string[]; values: Map<string, unknown> } {
  const args: string[] = [];
  const values = new Map<string, unknown>();
  for (const spec of serveSpecs()) {
    const name = optionName(spec);
    const given = serve[name];
    if (given === undefined || given === false) continue;
    const option = `--${flagName(spec)}`;
    const context: ParseContext = { source: option, cpuCount: () => 1 };
    if (!takesValue(spec)) {
      values.set(spec.key, true);
      args.push(option);
      continue;
    }
    const raws = Array.isArray(given) ? given : [String(given)];
    values.set(spec.key, spec.parse(spec.repeatable ? raws.join(',') : (raws[raws.length - 1] as string), context));
    for (const raw of spec.repeatable ? raws : raws.slice(-1)) args.push(option, raw);
  }
  return { args, values };
}

function watchdogSeconds(raw: string | undefined): number {
  if (raw === undefined) return SYSTEMD_DEFAULTS.watchdogS;
  const text = raw.trim();
  const value = Number(text);
  if (text === '' || !Number.isInteger(value) || value < 0 || value > 3600) throw usage('--watchdog', 'a whole number of seconds from 0 (off) to 3600', raw);
  return value;
}

function listenAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function resolveSystemdConfig(input: SystemdInput): SystemdConfig {
  const { flags } = input;
  if (flags.name === undefined || flags.name.trim() === '') {
    throw new WardenError('WARDEN_USAGE', '--name is required: the name of the service unit (and of its user)', { hint: 'e.g. warden systemd app.js --name my-app > /etc/systemd/system/my-app.service' });
  }
  const name = flags.name.trim();
  if (!UNIT_NAME.test(name)) throw usage('--name', 'a unit name: letters, digits, "_", "." and "-", starting with a letter or digit, at most 64 characters', flags.name);
  const user = (flags.user ?? name).trim();
  if (!USER_NAME.test(user)) throw usage('--user', 'a system user name: lowercase letters, digits, "_" and "-", starting with a letter or "_"', flags.user ?? name, flags.user === undefined ? 'give --user, since --name is not a valid user name' : undefined);
  if (user === 'root') throw usage('--user', 'a dedicated user, not root', user, 'create one with `useradd --system --no-create-home ' + name + '`');
  const group = (flags.group ?? user).trim();
  if (!USER_NAME.test(group)) throw usage('--group', 'a group name: lowercase letters, digits, "_" and "-"', flags.group ?? group);
  const description = (flags.description ?? `warden: ${name}`).trim();
  if (/[\n\r]/.test(description)) throw usage('--description', 'one line of text', description);
  if (input.command.some((word) => !word.startsWith('/'))) {
    throw new WardenError('WARDEN_CONFIG', `the warden command must be absolute paths (got "${input.command.join(' ')}")`);
  }

  const { args, values } = serveArgs(input.serve);
  const gracefulMs = values.get('gracefulTimeoutMs') as number | undefined;
  const gracefulS = gracefulMs === undefined ? SYSTEMD_DEFAULTS.gracefulTimeoutS : gracefulMs / 1000;
  const control = values.get('control') as string | undefined;
  // PrivateTmp hides the default control socket (under /tmp) from `warden status`; /run/<name> is
  // the RuntimeDirectory systemd creates for the service's user.
  const controlArgs = control === undefined ? ['--control', `/run/${name}/control.sock`] : [];
  const socketFlag = flags.socket === true;
  const uds = values.get('uds') as string | undefined;
  let socket: SystemdConfig['socket'];
  if (socketFlag) {
    const mode = values.get('udsMode') as number | undefined;
    // warden listen()s again on the inherited socket with --backlog; the unit says the same number.
    const backlog = values.get('backlog') as number | undefined;
    socket = uds !== undefined
      ? { listen: uds, mode: (mode ?? 0o666).toString(8).padStart(4, '0'), backlog }
      : { listen: listenAddress((values.get('host') as string | undefined) ?? SYSTEMD_DEFAULTS.host, (values.get('port') as number | undefined) ?? SYSTEMD_DEFAULTS.port), mode: undefined, backlog };
    if (socket.mode === undefined && /:0$/.test(socket.listen)) throw usage('--port', 'a fixed port with --socket (systemd binds it before warden starts)', '0');
  }
  const directoryOf = (path: string | undefined) => (path === undefined ? undefined : path.replace(/\/[^/]*$/, '') || '/');
  // ProtectSystem=strict makes the file system read-only: name what warden itself writes.
  let adminSocket: SystemdConfig['adminSocket'];
  if (flags.adminSocket === true) {
    if (!socketFlag) throw new WardenError('WARDEN_USAGE', '--admin-socket needs --socket', { hint: 'add --socket: the service port is the one whose restart must refuse nothing' });
    const adminPort = (values.get('adminPort') as number | undefined) ?? 9000;
    if (adminPort === 0) throw usage('--admin-port', 'a fixed port with --admin-socket (systemd binds it before warden starts)', '0');
    adminSocket = { listen: listenAddress((values.get('adminHost') as string | undefined) ?? SYSTEMD_DEFAULTS.host, adminPort) };
  }
  const readWritePaths = [values.get('heapSnapshotDir') as string | undefined, directoryOf(control), socketFlag ? undefined : directoryOf(uds)]
    .filter((path): path is string => path !== undefined && path !== '');
  if (values.get('reload') === true) {
    throw new WardenError('WARDEN_CONFIG', '--reload watches source files for development; a systemd unit should not', { hint: 'drop --reload; deploy, then `systemctl reload ' + name + '` for a rolling reload' });
  }
  return {
    name, description, user, group,
    execStart: [...input.command, 'serve', input.app, ...args, ...controlArgs, ...(input.appArgs.length > 0 ? ['--', ...input.appArgs] : [])],
    workingDirectory: input.workingDirectory,
    watchdogS: watchdogSeconds(flags.watchdog),
    timeoutStopS: Math.ceil(gracefulS) + STOP_MARGIN_S,
    restartSec: SYSTEMD_DEFAULTS.restartSec,
    socket,
    adminSocket,
    readWritePaths,
    appUnderHome: [input.app, input.workingDirectory, ...input.command].some((path) => path === '/home' || path.startsWith('/home/') || path === '/root' || path.startsWith('/root/')),
  };
}
