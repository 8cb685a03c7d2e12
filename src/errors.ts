// One table of exit codes (sysexits), shown by `claw help exit-codes` and in the README.
export const ExitCode = {
  ok: 0,
  usage: 64,
  unavailable: 69,
  internal: 70,
  tempFail: 75,
  config: 78,
} as const;

export const exitCodeTable: ReadonlyArray<[number, string, string]> = [
  [0, 'ok', 'the command did what was asked (an idle heartbeat is ok too)'],
  [64, 'usage', 'bad command line: unknown option, priority, duration or missing argument'],
  [69, 'unavailable', 'a needed program, service or store is unavailable (command not found, network down, unreadable store)'],
  [70, 'internal', 'a bug in claw: please report it with the message'],
  [75, 'temporary failure', 'gave up waiting for a slot or the request was dropped; try again later'],
  [78, 'config', 'invalid configuration or a missing setting such as an API key'],
];

export type ErrorType = 'usage_error' | 'unavailable' | 'internal_error' | 'temporary_failure' | 'config_error';

export class ClawError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly type: ErrorType,
  ) {
    super(message);
  }
}

export class UsageError extends ClawError {
  constructor(message: string) {
    super(message, ExitCode.usage, 'usage_error');
  }
}

export class UnavailableError extends ClawError {
  constructor(message: string) {
    super(message, ExitCode.unavailable, 'unavailable');
  }
}

/** The shared store went away mid-run (a Redis restart): a caller that waits may try again. */
export class StoreUnreachableError extends UnavailableError {}

export class TempFailError extends ClawError {
  constructor(message: string) {
    super(message, ExitCode.tempFail, 'temporary_failure');
  }
}

export class ConfigError extends ClawError {
  constructor(message: string) {
    super(message, ExitCode.config, 'config_error');
  }
}

/**
 * A task source's answer cannot be used (the CLI failed, its output is not what claw reads). Not a
 * ClawError: a heartbeat shows the source as unavailable (or its cached value as stale) and goes on.
 */
export class SourceError extends Error {}

export function asClawError(err: unknown): ClawError {
  if (err instanceof ClawError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ClawError(`internal error: ${message}`, ExitCode.internal, 'internal_error');
}
