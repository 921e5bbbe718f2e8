// `warden config`: the resolved settings and where each came from, as a table for people or as
// JSON. Pure: formats what launch.ts prepared.

import { SERVE_OPTIONS, type OptionSpec, type ServeOptions } from './options.js';
import { optionName, type ValueSource } from './resolve.js';
import { megabytes } from '../units.js';

export interface ShowInput {
  options: ServeOptions;
  sources: Record<keyof ServeOptions, ValueSource>;
  file: { path: string } | undefined;
  cwd: string;
  moduleSpec: string | undefined;
  appArgs: readonly string[];
}

/** A parsed value in the units the user writes. */
export function displayValue(key: keyof ServeOptions, value: unknown): string {
  if (value === undefined) return key === 'cwd' ? '.' : key === 'envFile' ? 'none' : 'off';
  if (key.endsWith('Ms') && typeof value === 'number') return `${value / 1000}s`;
  if (key.endsWith('Bytes') && typeof value === 'number') return value === 0 ? '0 (off)' : megabytes(value, { digits: Number.isInteger(value / (1024 * 1024)) ? 0 : 2 });
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map((item) => JSON.stringify(item)).join(' ');
  if (typeof value === 'object' && value !== null && 'kind' in value) {
    const minReady = value as ServeOptions['minReady'];
    return minReady.kind === 'all' ? 'all' : minReady.kind === 'count' ? String(minReady.count) : `${minReady.percent}%`;
  }
  return String(value);
}

function describeSource(source: ValueSource): string {
  switch (source.kind) {
    case 'flag':
      return source.name.startsWith('--') ? `flag ${source.name}` : source.name;
    case 'env':
      return `env ${source.name}`;
    case 'file':
      return source.name;
    case 'default':
      return 'default';
  }
}

export function formatResolved(input: ShowInput, format: 'text' | 'json'): string {
  const rows = (SERVE_OPTIONS as readonly OptionSpec[]).map((spec) => {
    const source = input.sources[spec.key];
    const value = displayValue(spec.key, input.options[spec.key]);
    // Show the text as given when it reads differently from the value ("auto" -> 4).
    const given = source.raw !== undefined && source.raw.trim() !== value && spec.key === 'workers' ? ` (${source.raw.trim()})` : '';
    return { name: optionName(spec), value: `${value}${given}`, source: describeSource(source) };
  });
  if (format === 'json') {
    const settings = Object.fromEntries(rows.map((row) => [row.name, { value: row.value, source: row.source }]));
    return `${JSON.stringify({ config: input.file?.path ?? null, cwd: input.cwd, app: input.moduleSpec ?? null, args: input.appArgs, settings }, null, 2)}\n`;
  }
  const header = [
    `config file: ${input.file?.path ?? 'none'}`,
    `working dir: ${input.cwd}`,
    `app:         ${input.moduleSpec ?? '(not given)'}${input.appArgs.length > 0 ? ` -- ${input.appArgs.map((arg) => JSON.stringify(arg)).join(' ')}` : ''}`,
    '',
  ];
  const width = (pick: (row: (typeof rows)[number]) => string) => Math.max(...rows.map((row) => pick(row).length));
  const nameWidth = Math.max(width((row) => row.name), 'option'.length);
  const valueWidth = Math.max(width((row) => row.value), 'value'.length);
  const lines = [`${'option'.padEnd(nameWidth)}  ${'value'.padEnd(valueWidth)}  source`, ...rows.map((row) => `${row.name.padEnd(nameWidth)}  ${row.value.padEnd(valueWidth)}  ${row.source}`)];
  return `${[...header, ...lines].join('\n')}\n`;
}
