// Every error warden raises on purpose: a WardenError with a stable code that callers branch on.
// Only cli/ turns these into stderr text and exit codes; everything else throws them.

export type WardenErrorCode =
  | 'WARDEN_USAGE' // bad flag, bad value, missing argument: exit 2
  | 'WARDEN_CONFIG' // settings that conflict with each other: exit 2
  | 'WARDEN_APP_LOAD' // the app module cannot be found, imported or adapted
  | 'WARDEN_BOOT' // no worker could become ready
  | 'WARDEN_LISTEN' // the service or admin address cannot be bound
  | 'WARDEN_CRASH_LOOP' // workers kept failing after having served
  | 'WARDEN_CHECK' // `warden check` could not run its test
  | 'WARDEN_CONTROL' // `warden reload|scale|status` could not reach a primary, or it refused

export class WardenError extends Error {
  readonly code: WardenErrorCode;
  /** A next step for the operator, printed as "hint:" under the message. */
  readonly hint?: string;

  constructor(code: WardenErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WardenError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function isWardenError(error: unknown): error is WardenError {
  return error instanceof WardenError;
}

/** errno code of a system error, or undefined: lets callers ignore only the errors they name. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Exit codes of the warden process. */
export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** No worker ever became ready: the app cannot load or boot (gunicorn's WORKER_BOOT_ERROR). */
  boot: 3,
  /** Workers kept failing after having served (crash loop). */
  crashLoop: 4,
  /**
   * Stopped, but not cleanly: a worker exited on its own while warden was draining it (its own
   * signal handler, a process.exit() with requests in flight), so some requests may have been cut.
   */
  uncleanStop: 5,
  /** The primary was told to stop twice and did not wait for in-flight requests. */
  forced: 130,
} as const;
