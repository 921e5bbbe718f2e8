// How warden writes durations and sizes for people (log lines, incidents, `warden status`, `warden
// check`): one formatter per unit, so the same figure reads the same everywhere. Ground floor: pure,
// imports nothing.

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** Milliseconds as seconds: "1.5s"; `gap: ' '` writes "1.5 s". */
export function seconds(ms: number, options: { digits?: number; gap?: string } = {}): string {
  return `${(ms / 1000).toFixed(options.digits ?? 1)}${options.gap ?? ''}s`;
}

/** A short duration: "250ms" under a second, "1.5s" from there on. */
export function duration(ms: number): string {
  return ms >= 1000 ? seconds(ms) : `${Math.round(ms)}ms`;
}

/** Bytes as megabytes (of 1024 × 1024 bytes): "12 MB"; `unit: 'MiB'` for the memory-limit arithmetic. */
export function megabytes(bytes: number, options: { digits?: number; unit?: 'MB' | 'MiB' } = {}): string {
  const digits = options.digits ?? 0;
  const value = digits === 0 ? String(Math.round(bytes / MIB)) : (bytes / MIB).toFixed(digits);
  return `${value} ${options.unit ?? 'MB'}`;
}

/** A size that may be large: "1.5 GB" from a gibibyte on, "300 MB" below. */
export function size(bytes: number): string {
  return bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GB` : megabytes(bytes);
}
