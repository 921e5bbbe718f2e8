// commander wiring for `warden check`: flags -> CheckOptions, Ctrl-C -> abort (the check itself
// always undoes its fault: resumes a stopped worker, kills a spinning one warden did not replace),
// report -> stdout. Exit 0 on "pass", 1 on "trap".

import { Command, Option } from 'commander';
import { WardenError } from '../errors.js';
import { CHECK_DEFAULTS, FAULTS, formatCheckReport, runCheck, type CheckOptions, type Fault } from '../check/run-check.js';

function parseSeconds(flag: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
      throw new WardenError('WARDEN_USAGE', `${flag} must be a number of seconds above 0 (got "${raw}")`);
    }
    return Math.round(value * 1000);
  };
}

function parsePid(raw: string): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 2) throw new WardenError('WARDEN_USAGE', `--pid must be a process id (got "${raw}")`);
  return Number(raw);
}

function parseUrl(flag: string) {
  return (raw: string): string => {
    try {
      return new URL(raw).href;
    } catch {
      throw new WardenError('WARDEN_USAGE', `${flag} must be a URL such as http://127.0.0.1:8000/health (got "${raw}")`);
    }
  };
}

function parseFault(raw: string): Fault {
  const fault = FAULTS.find((name) => name === raw.trim());
  if (fault === undefined) throw new WardenError('WARDEN_USAGE', `--fault must be ${FAULTS.join(' or ')} (got "${raw}")`);
  return fault;
}

interface CheckFlags {
  admin: string;
  pid?: number;
  health?: string;
  url?: string;
  duration: number;
  interval: number;
  requestTimeout: number;
  slot?: string;
  fault: Fault;
  json?: boolean;
}

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('freeze one worker of a running server (SIGSTOP, or a busy loop) and report whether its health tells the truth')
    .addOption(new Option('--admin <url>', "warden's admin URL").default(CHECK_DEFAULTS.adminUrl).argParser(parseUrl('--admin')))
    .addOption(new Option('--pid <pid>', 'primary process of another server (PM2, node:cluster, uvicorn); its children are the workers').argParser(parsePid))
    .addOption(new Option('--health <url>', 'health URL to poll (required with --pid)').argParser(parseUrl('--health')))
    .addOption(new Option('--url <url>', 'service URL to send requests to (required with --pid)').argParser(parseUrl('--url')))
    .addOption(new Option('--duration <s>', 'seconds to watch after the freeze').default(CHECK_DEFAULTS.durationMs, '20').argParser(parseSeconds('--duration')))
    .addOption(new Option('--interval <s>', 'seconds between polls and requests').default(CHECK_DEFAULTS.intervalMs, '0.1').argParser(parseSeconds('--interval')))
    .addOption(new Option('--request-timeout <s>', 'seconds each poll and request may take').default(CHECK_DEFAULTS.requestTimeoutMs, '2').argParser(parseSeconds('--request-timeout')))
    .addOption(new Option('--slot <n>', 'which worker to freeze (warden: slot; --pid: n-th child, oldest first)'))
    .addOption(
      new Option(
        '--fault <kind>',
        'how to freeze it: stop = SIGSTOP, resumed with SIGCONT at the end; spin = a busy loop in its main thread, ' +
          "started through the worker's inspector (warden only, needs --capture-stacks on), killed at the end if warden did not replace it",
      )
        .default(CHECK_DEFAULTS.fault)
        .argParser(parseFault),
    )
    .option('--json', 'print the report as JSON')
    .exitOverride()
    .action(async (flags: CheckFlags) => {
      const options = checkOptions(flags);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const report = await runCheck(options, { signal: abort.signal, log: (line) => process.stderr.write(`${line}\n`) });
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatCheckReport(report)}\n`);
        process.exitCode = report.verdict === 'pass' ? 0 : 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

function checkOptions(flags: CheckFlags): CheckOptions {
  let slot: number | undefined;
  if (flags.slot !== undefined) {
    if (!/^\d+$/.test(flags.slot) || Number(flags.slot) < 1) throw new WardenError('WARDEN_USAGE', `--slot must be a positive integer (got "${flags.slot}")`);
    slot = Number(flags.slot);
  }
  const common = {
    durationMs: flags.duration,
    intervalMs: flags.interval,
    requestTimeoutMs: flags.requestTimeout,
    fault: flags.fault,
    ...(slot === undefined ? {} : { slot }),
  };
  if (flags.pid !== undefined) {
    if (flags.fault === 'spin') {
      throw new WardenError('WARDEN_USAGE', '--fault spin works only against warden (it uses the inspector port warden gives each worker), not with --pid', {
        hint: 'with --pid, use --fault stop (the default)',
      });
    }
    if (flags.health === undefined || flags.url === undefined) {
      throw new WardenError('WARDEN_USAGE', '--pid needs --health <url> and --url <url>', {
        hint: 'e.g. warden check --pid 4242 --health http://127.0.0.1:3000/health --url http://127.0.0.1:3000/',
      });
    }
    return { ...common, target: { kind: 'pid', pid: flags.pid, healthUrl: flags.health, serviceUrl: flags.url } };
  }
  return {
    ...common,
    target: { kind: 'warden', adminUrl: flags.admin },
    ...(flags.health === undefined ? {} : { healthUrl: flags.health }),
    ...(flags.url === undefined ? {} : { serviceUrl: flags.url }),
  };
}
