// Shared bits of every bench script: parameters from env vars, the machine line, medians and
// percentiles, and plain text tables. Output is a table for people and one JSON line (prefixed
// BENCH_JSON) for tools.

import { availableParallelism, cpus, loadavg } from 'node:os';

/** A number from an env var, with the default and a clear error for bad input. */
export function envNumber(name, defaultValue, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return defaultValue;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got "${raw}")`);
  }
  return value;
}

/** A comma-separated list from an env var, each item checked against `allowed`. */
export function envList(name, defaultValue, allowed) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return defaultValue;
  const items = raw.split(',').map((item) => item.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item)) throw new Error(`${name}: unknown item "${item}" (expected some of ${allowed.join(', ')})`);
  }
  return items;
}

export function machine() {
  return {
    node: process.version,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    loadavg1m: Number(loadavg()[0].toFixed(2)),
  };
}

export function machineLine(info = machine()) {
  return `node ${info.node}, ${info.cores} cores (${info.cpu}), load average ${info.loadavg1m} at start`;
}

export function median(values) {
  const sorted = values.filter((value) => value !== undefined && value !== null && !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The nearest-rank percentile `p` (0-100) of ascending `sorted` values, to 0.01; null if there are none. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, index)] * 100) / 100;
}

export function round(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return undefined;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Rows of strings/numbers -> aligned text table; numbers are right-aligned. */
export function table(header, rows) {
  const cells = [header, ...rows].map((row) => row.map((cell) => (cell === undefined || cell === null ? '-' : String(cell))));
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column].length)));
  const isNumeric = header.map((_, column) => rows.every((row) => typeof row[column] === 'number' || row[column] === undefined || row[column] === null));
  const line = (row) => row.map((cell, column) => (isNumeric[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function printJson(name, value) {
  process.stdout.write(`BENCH_JSON ${JSON.stringify({ bench: name, ...value })}\n`);
}
