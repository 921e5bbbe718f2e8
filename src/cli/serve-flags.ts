// The `warden serve` flags as commander options, built from the option table (config/options.ts):
// shared by `warden serve`, `warden config` and `warden systemd`, so each takes the same flags.

import { Option, type Command } from 'commander';
import { SERVE_OPTIONS, takesValue, type OptionSpec } from '../config/options.js';

export function addServeOption(command: Command, spec: OptionSpec): void {
  const env = spec.env.length > 0 ? ` [env: ${spec.env.join(', ')}]` : '';
  const defaultText = spec.defaultValue === undefined || !takesValue(spec) ? '' : ` (default: ${spec.defaultValue})`;
  const option = new Option(spec.flag, `${spec.help}${defaultText}${env}`);
  if (spec.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  command.addOption(option);
}

export function addServeOptions(command: Command): void {
  for (const spec of SERVE_OPTIONS as readonly OptionSpec[]) addServeOption(command, spec);
}
