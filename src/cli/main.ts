// commander wiring for `warden serve` and `warden check`. The only place that prints errors and
// calls process.exit: every failure below becomes "warden: <what failed>" (+ a hint) on stderr and
// a non-zero exit code chosen from the error's stable code.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { systemClock } from '../clock.js';
import { autoWorkers, readSizingFacts, startupNotes, type SizingFacts } from '../config/worker-sizing.js';
import { SERVE_OPTIONS, takesValue, type OptionSpec } from '../config/options.js';
import { resolveServeOptions } from '../config/resolve.js';
import { EXIT_CODES, WardenError, isWardenError, type WardenErrorCode } from '../errors.js';
import { LOG_EVENTS } from '../log/events.js';
import { createLogger } from '../log/logger.js';
import { installSignalHandlers } from '../primary/signals.js';
import { Supervisor } from '../primary/supervisor.js';
import { registerCheckCommand } from './check-command.js';
import { registerK8sCommand } from './k8s-command.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

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

/** "app.js:handler" -> { path: "app.js", exportName: "handler" }; a bare path has no export name. */
export function parseModuleSpec(spec: string): { path: string; exportName: string | undefined } {
  const match = /^(.*[^:]):([A-Za-z_$][\w$]*)$/.exec(spec);
  if (match !== null && !existsSync(spec)) return { path: match[1] as string, exportName: match[2] };
  return { path: spec, exportName: undefined };
}

function resolveModule(spec: string): { modulePath: string; exportName: string | undefined } {
  const { path, exportName } = parseModuleSpec(spec);
  const modulePath = resolve(process.cwd(), path);
  if (!existsSync(modulePath) || !statSync(modulePath).isFile()) {
    throw new WardenError('WARDEN_APP_LOAD', `cannot load app "${spec}": no such file ${modulePath}`, {
      hint: 'give the path of your app module, e.g. `warden serve ./app.js` or `warden serve ./server.mjs:app`',
    });
  }
  return { modulePath, exportName };
}

/** The module as messages name it: relative to the working directory when it lies below it. */
function moduleLabel(modulePath: string, spec: string): string {
  const path = relative(process.cwd(), modulePath);
  if (path === '') return spec;
  return path.startsWith('..') ? modulePath : path;
}

function addServeOption(command: Command, spec: OptionSpec): void {
  const env = spec.env.length > 0 ? ` [env: ${spec.env.join(', ')}]` : '';
  const defaultText = spec.defaultValue === undefined || !takesValue(spec) ? '' : ` (default: ${spec.defaultValue})`;
  command.addOption(new Option(spec.flag, `${spec.help}${defaultText}${env}`));
}

async function serve(moduleSpec: string, flags: Record<string, string | boolean | undefined>): Promise<void> {
  const sizing: SizingFacts = readSizingFacts(process.env);
  let auto: ReturnType<typeof autoWorkers> | undefined;
  const options = resolveServeOptions(flags, process.env, () => (auto = autoWorkers(sizing)).workers);
  const { modulePath, exportName } = resolveModule(moduleSpec);
  const log = createLogger(options.logFormat);
  for (const note of startupNotes(sizing, options.workers, auto)) log.log(note.level, note.event, note.msg, note.fields);
  const supervisor = new Supervisor(
    { options, modulePath, exportName, moduleLabel: moduleLabel(modulePath, moduleSpec), version: VERSION },
    systemClock,
    log,
  );
  const removeHandlers = installSignalHandlers((event) => supervisor.dispatch(event));
  // Whatever ends the primary, its workers end with it.
  process.on('exit', () => supervisor.killAll());
  const started = await supervisor.start();
  const url = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.log('info', LOG_EVENTS.started,
    `warden ${VERSION} serving ${moduleSpec} with ${options.workers} worker${options.workers === 1 ? '' : 's'} on ${url(started.listen.host, started.listen.port)} (admin ${url(started.admin.host, started.admin.port)}, pid ${process.pid})`,
    { version: VERSION, module: moduleSpec, workers: options.workers, listen: started.listen, admin: started.admin });
  const result = await started.done;
  removeHandlers();
  if (result.halt !== undefined) {
    printError(result.halt.message, result.halt.hint);
  }
  process.exit(result.code);
}

export function buildProgram(): Command {
  const program = new Command('warden')
    .description('Process manager for Node.js HTTP servers in which no worker fails silently')
    .version(VERSION, '-V, --version')
    .showHelpAfterError(false)
    .exitOverride();

  const serveCommand = program
    .command('serve')
    .description('serve an app on several worker processes sharing one port')
    .argument('<module>', 'app module, optionally with an export: ./app.js, ./app.mjs:handler, ./server.ts')
    .exitOverride()
    .action(async (moduleSpec: string, flags: Record<string, string | boolean | undefined>) => {
      await serve(moduleSpec, flags);
    });
  for (const spec of SERVE_OPTIONS as readonly OptionSpec[]) addServeOption(serveCommand, spec);
  registerCheckCommand(program);
  registerK8sCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
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
