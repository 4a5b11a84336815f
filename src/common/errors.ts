/**
 * Typed errors users can cause. Each has a stable `code`, a message that names
 * the thing, the value and the limit, and a `hint` that says what to do next.
 * The CLI prints `error: <message>` and, when present, `<hint>` on the same line,
 * with no stack trace unless --verbose.
 */
export type ErrorCode =
  | 'BAD_FLAG'
  | 'BAD_ENV'
  | 'BAD_CONFIG'
  | 'BAD_SCENARIO'
  | 'BAD_CONDITIONS'
  | 'BAD_RECORD'
  | 'COMPOSE_FILE'
  | 'DOCKER_UNAVAILABLE'
  | 'IMAGE_MISSING'
  | 'PORT_IN_USE'
  | 'NOT_READY'
  | 'ENDPOINT_UNREACHABLE'
  | 'SSH_CONNECT'
  | 'SSH_AUTH'
  | 'SSH_HOST_KEY'
  | 'SSH_KEY_FILE'
  | 'REMOTE_COMMAND'
  | 'NO_SUDO'
  | 'DISK_FULL'
  | 'RESOURCES'
  | 'OUTPUT_DIR'
  | 'INTERRUPTED'
  | 'NO_BROWSER'
  | 'RENDER_FAILED'
  | 'INTERNAL';

/** The setting a BAD_FLAG error is about, so the config pipeline can name where its value came from. */
export interface BadSetting {
  /** The long flag name, kebab-case (`duration`). */
  readonly flag: string;
  readonly value: unknown;
  /** What is allowed, or what to do instead. */
  readonly rule: string;
}

export class MeshbenchError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  readonly setting: BadSetting | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; exitCode?: number; setting?: BadSetting } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshbenchError';
    this.code = code;
    this.hint = options.hint;
    this.setting = options.setting;
    this.exitCode = options.exitCode ?? (code === 'INTERRUPTED' ? 130 : code === 'BAD_FLAG' ? 2 : 1);
  }
}

export function isMeshbenchError(error: unknown): error is MeshbenchError {
  return error instanceof MeshbenchError;
}

/** One line: message and hint. */
export function formatError(error: unknown): string {
  if (isMeshbenchError(error)) {
    return error.hint ? `${error.message}; ${error.hint}` : error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A flag value that is not allowed: exit 2 with a message naming flag, value and the rule. */
export function badFlag(flag: string, value: unknown, allowed: string): MeshbenchError {
  return new MeshbenchError('BAD_FLAG', `--${flag} ${JSON.stringify(value)} is not valid: ${allowed}`, {
    hint: `see --help`,
    setting: { flag, value, rule: allowed },
  });
}
