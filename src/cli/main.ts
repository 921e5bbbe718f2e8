// commander wiring for `warden serve` and `warden check`. The only place that prints errors and
// calls process.exit: every failure below becomes "warden: <what failed>" (+ a hint) on stderr and
// a non-zero exit code chosen from the error's stable code.

import { Command, CommanderError, Option } from 'commander';
import { addServeOptions } from './serve-flags.js';
import { prepare, resolveApp, VERSION, type Prepared } from '../api/launch.js';
import { start } from '../api/serve.js';
import { formatResolved } from '../config/show.js';
import { EXIT_CODES, WardenError, isWardenError, type WardenErrorCode } from '../errors.js';
import { LOG_EVENTS } from '../log/events.js';
import { createLogger } from '../log/logger.js';
import { primaryTitle } from '../process-title.js';
import { startupNotes } from '../config/worker-sizing.js';

function exitCodeFor(code: WardenErrorCode): number {
  switch (code) {
    case 'WARDEN_USAGE':
    case 'WARDEN_CONFIG':
      return EXIT_CODES.usage;
    case 'WARDEN_APP_LOAD':
    case 'WARDEN_BOOT':
      return EXIT_CODES.boot;
    case 'WARDEN_CRASH_LOOP':
      return EXIT_CODES.crashLoop;
    case 'WARDEN_LISTEN':
    case 'WARDEN_CHECK':
    case 'WARDEN_CONTROL':
      return EXIT_CODES.failure;
  }
}

export function printError(message: string, hint?: string): void {
  process.stderr.write(`warden: ${message}\n${hint === undefined ? '' : `  hint: ${hint}\n`}`);
}

function fail(error: unknown): never {
  if (isWardenError(error)) {
    printError(error.message, error.hint);
    process.exit(exitCodeFor(error.code));
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  printError(`internal error: ${text}`, 'this is a bug in warden; please report it with the command you ran');
  process.exit(EXIT_CODES.failure);
}

type Flags = Record<string, string | boolean | string[] | undefined>;

/** The app's arguments are the operands after `--`; other extra operands are a mistake. */
function appArgsFrom(extra: string[], argv: readonly string[]): string[] {
  if (extra.length > 0 && !argv.includes('--')) {
    throw new WardenError('WARDEN_USAGE', `too many arguments: ${extra.map((arg) => `"${arg}"`).join(' ')}`, {
      hint: "put the app's own arguments after --, e.g. `warden serve app.js --workers 2 -- --db db.json`",
    });
  }
  return extra;
}

async function prepareFromCli(given: string | undefined, operands: string[], flags: Flags, argv: readonly string[]): Promise<Prepared> {
  const { config, ...optionFlags } = flags;
  // `warden serve -- ARGS` with the app in the config file: commander takes the first of ARGS for the module.
  const dashes = argv.indexOf('--');
  const afterDashes = given !== undefined && dashes >= 0 && !argv.slice(0, dashes).includes(given);
  const moduleSpec = afterDashes ? undefined : given;
  const extra = afterDashes ? [given, ...operands] : operands;
  return prepare({
    flags: optionFlags,
    env: process.env,
    ...(typeof config === 'string' ? { configPath: config } : {}),
    discover: true,
    ...(moduleSpec === undefined ? {} : { moduleSpec }),
    appArgs: appArgsFrom(extra, argv),
  });
}

async function serve(moduleSpec: string | undefined, extra: string[], flags: Flags, argv: readonly string[]): Promise<void> {
  const prepared = await prepareFromCli(moduleSpec, extra, flags, argv);
  const app = resolveApp(prepared.moduleSpec, prepared.cwd);
  const { options } = prepared;
  const log = createLogger(options.logFormat);
  // A range is checked against the sizing rule on its own (config/worker-sizing.ts, checkWorkersRange).
  const notes = prepared.range === undefined ? startupNotes(prepared.sizing, options.workers, prepared.autoFit) : prepared.range.notes;
  for (const note of notes) log.log(note.level, note.event, note.msg, note.fields);
  const server = await start(prepared, app, log);
  const removeHandlers = server.handleSignals();
  const shown = prepared.moduleSpec as string;
  process.title = primaryTitle(shown, server.listen.path ?? server.listen.port);
  const url = (host: string, port: number, protocol = 'http') => `${protocol}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.log('info', LOG_EVENTS.started,
    `warden ${VERSION} serving ${shown} with ${options.workersRange === undefined ? '' : `${options.workersRange.min}..${options.workersRange.max} workers (autoscaling), starting with `}${options.workers} worker${options.workers === 1 ? '' : 's'} on ${server.listen.path === undefined ? url(server.listen.host, server.listen.port, server.protocol) : server.url} (admin ${url(server.admin.host, server.admin.port)}, control ${server.control}, pid ${process.pid})`,
    { version: VERSION, module: shown, workers: options.workers, ...(options.workersRange === undefined ? {} : { workersRange: options.workersRange }), listen: server.listen, admin: server.admin, control: server.control, ...(prepared.file === undefined ? {} : { config: prepared.file.path }) });
  const result = await server.done;
  await log.flush(2000);
  removeHandlers();
  if (result.halt !== undefined) {
    printError(result.halt.message, result.halt.hint);
  }
  process.exit(result.code);
}

async function showConfig(moduleSpec: string | undefined, extra: string[], flags: Flags, argv: readonly string[]): Promise<void> {
  const { json, ...rest } = flags;
  const prepared = await prepareFromCli(moduleSpec, extra, rest, argv);
  process.stdout.write(formatResolved(prepared, json === true ? 'json' : 'text'));
}

function addSettingsOptions(command: Command): void {
  command.addOption(new Option('--config <path>', 'read settings from this file instead of warden.config.{js,mjs,cjs,ts,json} in the working directory [env: WARDEN_CONFIG]'));
  addServeOptions(command);
}

/** The commands that serve, or show what serving would use: they load none of the side commands. */
const SERVING_COMMANDS = new Set(['serve', 'config']);

/**
 * The side commands (check, control, status, k8s, systemd), loaded only when one may run or when
 * help lists them all: `warden serve`, which stays up, keeps their modules out of its memory.
 */
async function registerSideCommands(program: Command): Promise<void> {
  const [check, control, status, k8s, systemd] = await Promise.all([
    import('./check-command.js'), import('./control-command.js'), import('./status-command.js'), import('./k8s-command.js'), import('./systemd-command.js'),
  ]);
  check.registerCheckCommand(program);
  control.registerControlCommands(program);
  status.registerStatusCommand(program);
  k8s.registerK8sCommand(program);
  systemd.registerSystemdCommand(program);
}

export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('warden')
    .description('Process manager for Node.js HTTP servers in which no worker fails silently')
    .version(VERSION, '-V, --version')
    .showHelpAfterError(false)
    .exitOverride();

  const serveCommand = program
    .command('serve')
    .description('serve an app on several worker processes sharing one port')
    .argument('[module]', 'app module, optionally with an export: ./app.js, ./app.mjs:handler, ./server.ts ("app" in the config file otherwise)')
    .argument('[args...]', "the app's own arguments, after --: each worker sees process.argv as `node <module> args...` would")
    .usage('[module] [options] [-- args...]')
    .exitOverride()
    .action(async (moduleSpec: string | undefined, extra: string[], flags: Flags) => {
      await serve(moduleSpec, extra, flags, argv);
    });
  addSettingsOptions(serveCommand);
  const configCommand = program
    .command('config')
    .description('print the settings `warden serve` would use, and where each one comes from')
    .argument('[module]', 'app module, as for `warden serve`')
    .argument('[args...]', "the app's own arguments, after --")
    .usage('[module] [options] [-- args...]')
    .option('--json', 'print one JSON object instead of a table')
    .exitOverride()
    .action(async (moduleSpec: string | undefined, extra: string[], flags: Flags) => {
      await showConfig(moduleSpec, extra, flags, argv);
    });
  addSettingsOptions(configCommand);
  if (!SERVING_COMMANDS.has(argv[2] ?? '')) await registerSideCommands(program);
  return program;
}

/**
 * A closed stdout or stderr (`warden serve … | head -1`) must not crash the primary: its log goes
 * through log/log-stream.ts, which counts what it drops; the few direct writes (errors, help) are
 * lost on EPIPE, nothing else.
 */
function ignoreClosedOutput(stream: NodeJS.WriteStream): void {
  stream.on('error', (error) => {
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return;
    throw error;
  });
}

export async function main(argv: string[]): Promise<void> {
  ignoreClosedOutput(process.stdout);
  ignoreClosedOutput(process.stderr);
  const program = await buildProgram(argv);
  program.configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  for (const command of program.commands) command.configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
        process.exit(EXIT_CODES.ok);
      }
      const message = error.message.replace(/^error: /, '');
      printError(message, 'run `warden --help` or `warden serve --help` for the options');
      process.exit(EXIT_CODES.usage);
    }
    fail(error);
  }
}

main(process.argv).catch(fail);
