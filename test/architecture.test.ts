// The import rules of the README ("Import rules"), checked over the import graph of src/: every
// `import ... from './x.js'` (and `export ... from`, and `import('./x.js')`) of every file, resolved
// to the file it names. A failure names the file, the import and the rule it breaks.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');

/** The floors everything may stand on. */
const FLOORS = ['os', 'net', 'log', 'errors', 'clock', 'units', 'process-title'];
const GROUND = ['errors', 'units'];

/**
 * Which areas each area may import (besides itself). An area is a folder under src/ (`check`), a
 * folder under src/primary/ (`primary/machine`), or a file at the top (`errors`, `units`).
 */
const ALLOWED: Record<string, readonly string[]> = {
  'cli': ['api', 'config', 'control', 'status', 'check', 'k8s', 'systemd', ...FLOORS],
  'api': ['primary', 'primary/*', 'config', 'app', 'protocol', ...FLOORS],
  'index': ['api', 'errors'],
  'primary': ['primary/*', 'config', 'control', 'diagnose', 'protocol', ...FLOORS],
  'primary/*': ['primary', 'primary/*', 'config', 'control', 'diagnose', 'protocol', ...FLOORS],
  'primary/machine': ['protocol', 'log', ...GROUND],
  'worker': ['app', 'protocol', ...FLOORS],
  'status': ['control', 'protocol', ...FLOORS],
  'check': ['diagnose', 'protocol', ...FLOORS],
  'k8s': ['config', ...FLOORS],
  'systemd': ['config', ...FLOORS],
  'config': ['protocol', ...FLOORS],
  'control': ['protocol', ...FLOORS],
  'app': ['protocol', ...FLOORS],
  'diagnose': ['protocol', ...FLOORS],
  'protocol': ['log', ...GROUND],
  'os': [...GROUND],
  'net': [...GROUND],
  'log': ['errors'],
  'errors': [],
  'clock': [],
  'units': [],
  'process-title': [],
};

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.c?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `src/primary/machine/step.ts` -> "primary/machine"; `src/primary/supervisor.ts` -> "primary"; `src/units.ts` -> "units". */
function areaOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  if (parts.length === 1) return (parts[0] as string).replace(/\.c?ts$/, '');
  if (parts[0] === 'primary' && parts.length > 2) return `primary/${parts[1]}`;
  return parts[0] as string;
}

function ruleOf(area: string): readonly string[] | undefined {
  return ALLOWED[area] ?? (area.startsWith('primary/') ? ALLOWED['primary/*'] : undefined);
}

function mayImport(from: string, to: string): boolean {
  if (from === to) return true;
  const rule = ruleOf(from) ?? [];
  return rule.includes(to) || (to.startsWith('primary/') && to !== 'primary/machine' && rule.includes('primary/*')) ||
    (to === 'primary/machine' && (rule.includes('primary/machine') || rule.includes('primary/*')));
}

interface Edge {
  from: string;
  spec: string;
  to: string;
}

/** Every relative import of src/, resolved from the `.js` a file names to the `.ts` beside it. */
function importGraph(): Map<string, Edge[]> {
  const graph = new Map<string, Edge[]>();
  for (const file of sourceFiles(SRC)) {
    // Comments can quote an import; only code counts.
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const edges: Edge[] = [];
    for (const match of code.matchAll(IMPORT)) {
      const spec = (match[1] ?? match[2]) as string;
      if (!spec.startsWith('.')) continue;
      const to = resolve(dirname(file), spec).replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts');
      edges.push({ from: file, spec, to });
    }
    graph.set(file, edges);
  }
  return graph;
}

const show = (file: string) => relative(ROOT, file);

test('every area of src/ has a rule in the README table', () => {
  const missing = [...new Set(sourceFiles(SRC).map(areaOf))].filter((area) => ruleOf(area) === undefined);
  assert.deepEqual(missing, [], `areas with no import rule: ${missing.join(', ')} (add them to the README's import rules and to ALLOWED)`);
});

test('every relative import names a file that exists', () => {
  const graph = importGraph();
  const broken = [...graph.values()].flat().filter((edge) => !graph.has(edge.to)).map((edge) => `${show(edge.from)}: import '${edge.spec}'`);
  assert.deepEqual(broken, [], `imports of files that do not exist:\n${broken.join('\n')}`);
});

test('imports point down: each folder imports only what the README allows it', () => {
  const violations: string[] = [];
  for (const edges of importGraph().values()) {
    for (const edge of edges) {
      const from = areaOf(edge.from);
      const to = areaOf(edge.to);
      if (!mayImport(from, to)) violations.push(`${show(edge.from)}: import '${edge.spec}' (${from}/ may not import ${to}/)`);
    }
  }
  assert.deepEqual(violations, [], `imports against the README's rules:\n${violations.join('\n')}`);
});

test('no import cycle between files of src/', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const edge of graph.get(file) ?? []) {
      if (!graph.has(edge.to)) continue;
      const seen = state.get(edge.to);
      if (seen === 'open') {
        const loop = [...stack.slice(stack.indexOf(edge.to)), edge.to];
        cycles.push(loop.map(show).join(' -> '));
      } else if (seen === undefined) {
        visit(edge.to);
      }
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});
