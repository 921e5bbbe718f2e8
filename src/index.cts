// The CommonJS entry: `const { serve } = require('warden')`. warden itself is ESM; serve() is async
// anyway, so this entry loads it on the first call (Node 20 cannot require() an ES module). The
// types are the ESM entry's own (resolution-mode: import).
import type * as api from './index.js' with { 'resolution-mode': 'import' };

export type { Address, ReloadEvent, ServeInput, StopResult, WardenEvents, WardenOptions, WardenServer, WorkerEvent, WorkerExitEvent, WardenErrorCode } from './index.js' with { 'resolution-mode': 'import' };

export async function serve(input: api.ServeInput): Promise<api.WardenServer> {
  const esm = await import('./index.js');
  return esm.serve(input);
}
