// --reload: watch the app's source directories and report a change, debounced, so that one save (or
// a `git checkout` touching many files) asks for one rolling reload. It decides nothing about the
// reload itself; schedule.ts turns the report into a ReloadRequested event.

import { watch, type FSWatcher } from 'node:fs';
import { relative, resolve } from 'node:path';
import { createRequire } from 'node:module';

export interface SourceWatchOptions {
  dirs: string[];
  include: string[];
  exclude: string[];
  debounceMs: number;
}

export interface SourceWatch {
  close(): void;
}

/** Loaded on first use (only --reload needs globs), so a primary without --reload does not carry it. */
let picomatchModule: typeof import('picomatch') | undefined;

/** Pure: does a change to `path` (relative to a watched directory) count? */
export function isWatchedPath(path: string, include: readonly string[], exclude: readonly string[]): boolean {
  const picomatch = (picomatchModule ??= createRequire(import.meta.url)('picomatch') as typeof import('picomatch'));
  const options = { dot: true };
  if (exclude.length > 0 && picomatch(exclude as string[], options)(path)) return false;
  return include.length === 0 || picomatch(include as string[], options)(path);
}

export function watchSources(options: SourceWatchOptions, onChange: (path: string) => void, onError: (message: string) => void): SourceWatch {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let changed: string | undefined;
  for (const dir of options.dirs.map((entry) => resolve(entry))) {
    try {
      const watcher = watch(dir, { recursive: true, persistent: false }, (_event, name) => {
        if (name === null) return;
        const path = relative(dir, resolve(dir, name.toString()));
        if (!isWatchedPath(path, options.include, options.exclude)) return;
        changed ??= path;
        clearTimeout(timer);
        timer = setTimeout(() => {
          const first = changed as string;
          changed = undefined;
          onChange(first);
        }, options.debounceMs);
      });
      watcher.on('error', (error) => onError(`--reload stopped watching ${dir}: ${error.message}`));
      watchers.push(watcher);
    } catch (error) {
      onError(`--reload cannot watch ${dir}: ${(error as Error).message}`);
    }
  }
  return {
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
