// Kubernetes resource quantities ("200m", "0.5", "256Mi", "1G", "129e6") checked and converted the way
// the API server reads them, so a bad `--memory` fails in `warden k8s`, not at `kubectl apply`.
// Pure: no I/O.

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

// The API server's grammar (k8s.io/apimachinery resource.Quantity): a number, then a binary suffix,
// a decimal suffix, or an exponent. Negative values are valid quantities but never valid resources.
const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** The value of a quantity in base units (bytes, or CPUs), or undefined when it is not one. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (match === null) return undefined;
  const number = Number(match[1]);
  const suffix = match[2] ?? '';
  if (suffix in BINARY) return number * (BINARY[suffix] as number);
  if (suffix in DECIMAL) return number * (DECIMAL[suffix] as number);
  return number * 10 ** Number(suffix.slice(1));
}

export type QuantityKind = 'cpu' | 'memory';

/** Why `text` is not a usable quantity of this kind, or undefined when it is one. */
export function quantityProblem(text: string, kind: QuantityKind): string | undefined {
  const value = parseQuantity(text);
  const example = kind === 'cpu' ? 'CPUs such as "250m", "0.5" or "2"' : 'bytes with a unit, such as "256Mi", "1Gi" or "512M"';
  if (value === undefined) return `a Kubernetes quantity: ${example}`;
  if (value <= 0) return `above 0: ${example}`;
  if (kind === 'memory' && text.endsWith('m')) return `${example} ("m" means thousandths of a byte; use Mi or M)`;
  if (kind === 'memory' && value < 1024 * 1024) return `at least 1Mi: ${example} (a bare number counts bytes)`;
  if (kind === 'cpu' && value < 0.001) return `at least 1m: ${example}`;
  return undefined;
}

/** Bytes as a quantity in whole MiB (rounded up), the unit the generated manifests use. */
export function mebibytes(bytes: number): string {
  return `${Math.ceil(bytes / 2 ** 20)}Mi`;
}

/** CPUs as a quantity in whole millicores (rounded up). */
export function millicores(cpus: number): string {
  return `${Math.ceil(Math.round(cpus * 1e6) / 1e3)}m`;
}
