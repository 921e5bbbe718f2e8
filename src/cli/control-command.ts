// commander wiring for `warden reload`, `warden scale` and `warden profile`: find the running primary's control socket
// (--control, WARDEN_CONTROL, or the default derived from --uds or --port), send the request, stream its
// progress to the terminal, and exit 0 only if the reload or scale completed.

import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { sendControl } from '../control/client.js';
import { defaultControlPath, PROFILE_SECONDS, type ControlRequest } from '../control/protocol.js';
import { MAX_WORKERS } from '../api/launch.js';
import { EXIT_CODES, WardenError } from '../errors.js';

interface ControlFlags {
  control?: string;
  port?: string;
  uds?: string;
  wait: string;
}

/**
 * The socket a command talks to: --control, then WARDEN_CONTROL, then the default for the warden
 * serving --uds PATH (or WARDEN_UDS, when no --port is given), then for --port / PORT / 8000.
 */
export function controlPathFor(flags: { control?: string; port?: string; uds?: string }, env: Readonly<Record<string, string | undefined>>): string {
  if (flags.control !== undefined && flags.control !== '') return flags.control;
  if (env.WARDEN_CONTROL !== undefined && env.WARDEN_CONTROL !== '') return env.WARDEN_CONTROL;
  const uds = flags.uds ?? (flags.port === undefined ? env.WARDEN_UDS : undefined);
  // The primary names the socket by the absolute path it serves on, so a relative one is resolved here too.
  if (uds !== undefined && uds.trim() !== '') return defaultControlPath(resolve(uds.trim()), env, process.getuid?.() ?? 0, tmpdir());
  const rawPort = flags.port ?? env.PORT ?? '8000';
  if (!/^\d+$/.test(rawPort.trim()) || Number(rawPort) < 1 || Number(rawPort) > 65535) {
    throw new WardenError('WARDEN_USAGE', `--port must be the service port of the warden to reach, 1 to 65535 (got "${rawPort}")`);
  }
  return defaultControlPath(Number(rawPort), env, process.getuid?.() ?? 0, tmpdir());
}

/** "3" -> to 3 workers; "+1" / "-2" -> a step. */
export function parseScaleTarget(raw: string): { workers: number } | { delta: number } {
  const text = raw.trim();
  const match = /^([+-]?)(\d+)$/.exec(text);
  const refuse = (why: string) => new WardenError('WARDEN_USAGE', `warden scale: ${why} (got "${raw}")`, {
    hint: 'give a worker count such as 4, or a step such as +1 or -1',
  });
  if (match === null) throw refuse('the target must be a number of workers or a step');
  const value = Number(match[2]);
  if (match[1] === '') {
    if (value < 1) throw refuse('at least 1 worker is needed (to stop warden, send it SIGTERM)');
    if (value > MAX_WORKERS) throw refuse(`at most ${MAX_WORKERS} workers`);
    return { workers: value };
  }
  if (value === 0) throw refuse('a step of 0 changes nothing');
  return { delta: match[1] === '-' ? -value : value };
}

/** `warden profile 2 --seconds 3` -> slot 2 for 3 s. */
export function parseProfileTarget(rawSlot: string, rawSeconds: string): { slot: number; seconds: number } {
  if (!/^\d+$/.test(rawSlot.trim()) || Number(rawSlot) < 1) throw new WardenError('WARDEN_USAGE', `warden profile: the slot must be a worker slot, 1 or more (got "${rawSlot}")`);
  const seconds = Number(rawSeconds);
  if (rawSeconds.trim() === '' || !(seconds >= PROFILE_SECONDS.min && seconds <= PROFILE_SECONDS.max)) {
    throw new WardenError('WARDEN_USAGE', `warden profile: --seconds must be a number from ${PROFILE_SECONDS.min} to ${PROFILE_SECONDS.max} (got "${rawSeconds}")`);
  }
  return { slot: Number(rawSlot), seconds };
}

async function run(request: ControlRequest, flags: ControlFlags): Promise<never> {
  const path = controlPathFor(flags, process.env);
  const waitSeconds = Number(flags.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds <= 0) throw new WardenError('WARDEN_USAGE', `--wait must be a number of seconds above 0 (got "${flags.wait}")`);
  const done = await sendControl(path, request, (message) => process.stdout.write(`warden: ${message}\n`), waitSeconds * 1000);
  (done.ok ? process.stdout : process.stderr).write(`warden: ${done.message}\n`);
  process.exit(done.ok ? EXIT_CODES.ok : EXIT_CODES.failure);
}

function addCommonOptions(command: Command): Command {
  return command
    .addOption(new Option('--control <path>', 'control socket of the warden to reach [env: WARDEN_CONTROL]'))
    .addOption(new Option('--port <port>', 'service port of the warden to reach, when --control is not given [env: PORT]'))
    .addOption(new Option('--uds <path>', 'unix socket the warden to reach serves on (its --uds), when --control is not given [env: WARDEN_UDS]'))
    .addOption(new Option('--wait <s>', 'seconds to wait for the outcome').default('600'));
}

export function registerControlCommands(program: Command): void {
  addCommonOptions(program
    .command('reload')
    .description('rolling reload of a running warden: new workers from the code on disk, each ready before an old one drains'))
    .action(async (flags: ControlFlags) => run({ cmd: 'reload' }, flags));

  addCommonOptions(program
    .command('scale')
    .description('change the worker count of a running warden: `warden scale 4`, `warden scale +1`, `warden scale -1`')
    .argument('<target>', 'a worker count (4) or a step (+1, -1)'))
    // "-1" looks like a flag to commander; let it through as the target.
    .allowUnknownOption()
    .action(async (target: string, flags: ControlFlags) => run({ cmd: 'scale', ...parseScaleTarget(target) }, flags));

  addCommonOptions(program
    .command('profile')
    .description("CPU profile of a running worker through its inspector (127.0.0.1 only): its top functions, and a .cpuprofile in the primary's --profile-dir")
    .argument('<slot>', 'the worker slot (1..N)')
    .addOption(new Option('--seconds <s>', 'how long to profile').default('1')))
    .action(async (slot: string, flags: ControlFlags & { seconds: string }) => run({ cmd: 'profile', ...parseProfileTarget(slot, flags.seconds) }, flags));
}
