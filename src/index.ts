// warden's public API: `import { serve } from 'warden'` (or require('warden')).
export { serve, WardenServer } from './api/serve.js';
export type { Address, ReloadEvent, ServeInput, StopResult, WardenEvents, WardenOptions, WorkerEvent, WorkerExitEvent } from './api/serve.js';
export { WardenError, isWardenError, EXIT_CODES } from './errors.js';
export type { WardenErrorCode } from './errors.js';
