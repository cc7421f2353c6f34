/**
 * Why a pull failed. Each kind has its own process exit code, so that scripts (and the install job) can tell a
 * retryable network failure from a wrong repository name without parsing messages.
 */
export const HubErrorKind = {
  /** Bad command-line input: an unknown variant, a precision the converter lacks, a name taken by another variant. */
  USAGE: 'USAGE',
  /** The repository or the revision does not exist (with a token: a 404; without one the Hub answers 401). */
  NOT_FOUND: 'NOT_FOUND',
  /** 401/403: a private or gated repository, or a bad HF_TOKEN. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The repository holds something other than a BLIP captioning or VQA checkpoint. */
  NOT_BLIP: 'NOT_BLIP',
  /** A file the converter needs is not in the repository at that revision. */
  MISSING_FILE: 'MISSING_FILE',
  /** The connection failed or was reset; what arrived is kept and the next pull resumes from there. */
  NETWORK: 'NETWORK',
  /** Not enough space for the download or the conversion. */
  DISK_FULL: 'DISK_FULL',
  /** A downloaded file's sha256 (LFS) or git blob id differs from what the Hub lists; the file was deleted. */
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  /** HF_HUB_OFFLINE=1 and the cache does not hold the files. */
  OFFLINE_NOT_CACHED: 'OFFLINE_NOT_CACHED',
  /** The download worked but the conversion failed (the message says why). */
  CONVERT_FAILED: 'CONVERT_FAILED',
} as const;
export type HubErrorKind = (typeof HubErrorKind)[keyof typeof HubErrorKind];

/** Exit codes of `blip-gateway pull` (1 stays "anything else"). Documented in the README. */
export const EXIT_CODES: Readonly<Record<HubErrorKind, number>> = {
  USAGE: 2,
  NOT_FOUND: 3,
  UNAUTHORIZED: 4,
  NOT_BLIP: 5,
  MISSING_FILE: 6,
  NETWORK: 7,
  DISK_FULL: 8,
  CHECKSUM_MISMATCH: 9,
  OFFLINE_NOT_CACHED: 10,
  CONVERT_FAILED: 11,
};

export class HubError extends Error {
  readonly kind: HubErrorKind;
  /** True when running the same pull again continues where this one stopped. */
  readonly resumable: boolean;

  constructor(kind: HubErrorKind, message: string, options: { cause?: unknown; resumable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.kind = kind;
    this.resumable = options.resumable ?? false;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}
