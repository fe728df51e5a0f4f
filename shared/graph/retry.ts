/** Retry timing for Graph calls: Retry-After parsing and backoff with jitter. */

export interface GraphRetryOptions {
  /** Attempts after the first one, for throttling and service errors together. */
  maxRetries: number;
  /** First backoff for 5xx and network errors; doubled each time. */
  baseDelayInMs: number;
  /** Cap for one backoff step. */
  maxDelayInMs: number;
  /** Wait used for a 429 that carries no Retry-After. */
  defaultRetryAfterInMs: number;
  /** Cap for one Retry-After wait; longer waits are clamped (and counted in the throttle stats). */
  maxRetryAfterInMs: number;
}

export const defaultRetryOptions: GraphRetryOptions = {
  maxRetries: 10,
  baseDelayInMs: 1_000,
  maxDelayInMs: 60_000,
  defaultRetryAfterInMs: 10_000,
  maxRetryAfterInMs: 300_000,
};

/**
 * Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). Returns milliseconds from `now`,
 * or undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with full jitter: uniform in [delay/2, delay], so parallel workers spread out. */
export function backoffDelay(attempt: number, options: GraphRetryOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxDelayInMs, options.baseDelayInMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
