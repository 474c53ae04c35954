/**
 * How a sign-in in the popup ended, read from the server's status: connected, failed (the
 * callback recorded why), or closed by the student before they chose. The popup's message is
 * the fast path (connect.ts); this watch is what still works when that message is lost, and
 * the only way to notice a popup closed without an answer, which posts nothing at all.
 *
 * A closed popup alone proves nothing: it also closes itself right after a successful sign-in,
 * and a student may close it while the callback is still being handled. So the status is asked
 * again after the close is noticed, and only when those answers show no outcome is the sign-in
 * "closed without deciding". Pure (no JupyterLab, no DOM, clock and timers passed in), so jest
 * covers it.
 */
import type { IRunError, IStatus } from './types';

/** What the student is told when they closed the Google window without Allow or Deny. */
export const CLOSED_TEXT =
  'The Google sign-in window was closed before you chose. Connect again when you are ready.';

export type SignInOutcome =
  | { kind: 'connected' }
  /** The server recorded why this sign-in did not connect (consent denied, link expired). */
  | { kind: 'failed'; error: IRunError }
  /** The popup closed and the server recorded no outcome: the student closed it on purpose. */
  | { kind: 'closed' }
  /** The caller stopped the watch (it had its answer another way). */
  | { kind: 'stopped' };

/**
 * How long a sign-in may stay open: the server's sign-in link lasts ten minutes
 * (auth/web_flow.py STATE_TTL_SECONDS), so a later Allow could only fail as expired.
 */
export const SIGN_IN_TIMEOUT_MS = 10 * 60 * 1000;

/** Status polls while the popup is open (the message is the fast path; this is the fallback). */
export const POLL_MS = 1500;
/** How often to look whether the popup is still open between polls. */
export const CLOSE_CHECK_MS = 250;
/** Status answers taken after the close was noticed before deciding "closed without deciding". */
export const CHECKS_AFTER_CLOSE = 2;
/** Time between those answers: room for a callback still being handled when the popup closed. */
export const AFTER_CLOSE_MS = 1000;

export interface ISignInWatch {
  /** Ask the server now (the model's refresh); null when it could not be asked. */
  status: () => Promise<IStatus | null>;
  isOpen: () => boolean;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** True once the caller has its answer another way (the popup's message): stop asking. */
  stopped?: () => boolean;
  timeoutMs?: number;
}

/**
 * What one status answer says about this sign-in. `earlier` is the failure time the first
 * answer carried: that answer may predate the popup reaching auth/start (which clears an old
 * failure), so only a failure recorded at another time is this sign-in's.
 */
export function judgeStatus(status: IStatus | null, earlier: number | null): SignInOutcome | null {
  if (status?.connected && !status.needsReauth) {
    return { kind: 'connected' };
  }
  if (status?.authError && status.authErrorAt !== earlier) {
    const error = status.authError;
    return { kind: 'failed', error: error.kind === 'other' ? { kind: 'signin', message: '' } : error };
  }
  return null;
}

/** Poll the status until the sign-in has an outcome; see the module comment for "closed". */
export async function watchSignIn(watch: ISignInWatch): Promise<SignInOutcome> {
  const deadline = watch.now() + (watch.timeoutMs ?? SIGN_IN_TIMEOUT_MS);
  const stopped = () => !!watch.stopped?.();
  let earlier: number | null | undefined = undefined;
  let checksAfterClose = 0;
  while (!stopped() && watch.now() < deadline) {
    // Read before asking: an answer counts as "after the close" only if the close came first.
    const closedBefore = !watch.isOpen();
    const status = await watch.status();
    if (stopped()) {
      break;
    }
    if (earlier === undefined) {
      earlier = status?.authErrorAt ?? null;
    }
    const outcome = judgeStatus(status, earlier);
    if (outcome) {
      return outcome;
    }
    if (closedBefore && ++checksAfterClose >= CHECKS_AFTER_CLOSE) {
      return { kind: 'closed' };
    }
    await sleepWhileOpen(watch, closedBefore ? AFTER_CLOSE_MS : POLL_MS);
  }
  if (stopped()) {
    return { kind: 'stopped' };
  }
  // Out of time with the popup still open: its link has expired, so say so (not "waiting").
  return { kind: 'failed', error: { kind: 'signin', message: '' } };
}

/** Sleep `ms`, but wake early when the popup closes (or the caller stops the watch). */
async function sleepWhileOpen(watch: ISignInWatch, ms: number): Promise<void> {
  const wasOpen = watch.isOpen();
  for (let slept = 0; slept < ms; slept += CLOSE_CHECK_MS) {
    await watch.sleep(Math.min(CLOSE_CHECK_MS, ms - slept));
    if ((wasOpen && !watch.isOpen()) || watch.stopped?.()) {
      return;
    }
  }
}
