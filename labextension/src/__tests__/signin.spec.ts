/**
 * The sign-in watch: a popup closed before choosing is told apart from one that closed itself
 * after an outcome (by message or by the status), on a fake clock (no real waiting).
 */
import {
  AFTER_CLOSE_MS,
  CHECKS_AFTER_CLOSE,
  CLOSED_TEXT,
  CLOSE_CHECK_MS,
  judgeStatus,
  POLL_MS,
  SIGN_IN_TIMEOUT_MS,
  watchSignIn
} from '../signin';
import type { IRunError, IStatus } from '../types';
import { statusWith } from './fixtures';

function status(extra: Partial<IStatus> = {}): IStatus {
  return statusWith({ prompt: true, ...extra });
}

const DENIED: IRunError = { kind: 'denied', message: '' };

/**
 * A scripted sign-in on a fake clock: the popup closes at `closeAt` (ms, never if null); the
 * server answers `serverAt(t)` for a status asked at time t; each request takes `requestMs`.
 */
function scenario(opts: {
  closeAt: number | null;
  serverAt: (t: number) => IStatus;
  requestMs?: number;
  timeoutMs?: number;
  stopAt?: number;
}) {
  let t = 0;
  const asked: number[] = [];
  const isOpen = () => opts.closeAt === null || t < opts.closeAt;
  const result = watchSignIn({
    status: async () => {
      const answer = opts.serverAt(t);
      asked.push(t);
      t += opts.requestMs ?? 0;
      return answer;
    },
    isOpen,
    sleep: async ms => {
      t += ms;
    },
    now: () => t,
    stopped: () => opts.stopAt !== undefined && t >= opts.stopAt,
    timeoutMs: opts.timeoutMs
  });
  return { result, asked, now: () => t };
}

describe('judgeStatus', () => {
  it('is connected only when the account needs no new sign-in', () => {
    expect(judgeStatus(status({ connected: true }), null)).toEqual({ kind: 'connected' });
    expect(judgeStatus(status({ connected: true, needsReauth: true }), null)).toBeNull();
  });

  it("counts only a failure recorded after the watch's first answer", () => {
    const failed = status({ authError: DENIED, authErrorAt: 2000 });
    expect(judgeStatus(failed, 2000)).toBeNull();
    expect(judgeStatus(failed, 1000)).toEqual({ kind: 'failed', error: DENIED });
    expect(judgeStatus(failed, null)).toEqual({ kind: 'failed', error: DENIED });
  });

  it('says an unknown failure as an unfinished sign-in', () => {
    const odd = status({ authError: { kind: 'other', message: 'Traceback' }, authErrorAt: 5 });
    expect(judgeStatus(odd, null)).toEqual({ kind: 'failed', error: { kind: 'signin', message: '' } });
  });
});

describe('watchSignIn', () => {
  it('notices a popup closed with no outcome within two seconds, after asking again', async () => {
    const closeAt = 10_000;
    const run = scenario({ closeAt, serverAt: () => status(), requestMs: 100 });
    expect(await run.result).toEqual({ kind: 'closed' });
    const afterClose = run.asked.filter(at => at >= closeAt);
    expect(afterClose.length).toBe(CHECKS_AFTER_CLOSE);
    expect(run.now() - closeAt).toBeLessThanOrEqual(2000);
    // While open, it polled at the slow pace, not in a tight loop.
    expect(run.asked.filter(at => at < closeAt).length).toBeLessThanOrEqual(Math.ceil(closeAt / POLL_MS));
  });

  it('lets a success win when the popup closes itself right after it', async () => {
    // The callback page connects the server, then closes itself 300 ms later.
    const connectedAt = 4000;
    const run = scenario({ closeAt: connectedAt + 300, serverAt: t => status({ connected: t >= connectedAt }) });
    expect(await run.result).toEqual({ kind: 'connected' });
  });

  it('lets a success win that the server records just after the student closed the popup', async () => {
    // Allow pressed, popup closed while the callback was still exchanging the code.
    const closeAt = 3000;
    const run = scenario({ closeAt, serverAt: t => status({ connected: t >= closeAt + AFTER_CLOSE_MS / 2 }) });
    expect(await run.result).toEqual({ kind: 'connected' });
  });

  it('lets a recorded denial win over the close', async () => {
    const deniedAt = 5000;
    const run = scenario({
      closeAt: deniedAt + 10,
      serverAt: t => (t >= deniedAt ? status({ authError: DENIED, authErrorAt: deniedAt }) : status())
    });
    expect(await run.result).toEqual({ kind: 'failed', error: DENIED });
  });

  it("does not take an earlier sign-in's failure for this one's", async () => {
    const old = status({ authError: DENIED, authErrorAt: 123 });
    const run = scenario({ closeAt: 2000, serverAt: () => old });
    expect(await run.result).toEqual({ kind: 'closed' });
  });

  it('does not count an answer asked for before the close was seen', async () => {
    // Every request takes 2 s; the popup closes during the second one.
    const closeAt = POLL_MS + 2000 + 500;
    const run = scenario({ closeAt, serverAt: () => status(), requestMs: 2000 });
    expect(await run.result).toEqual({ kind: 'closed' });
    expect(run.asked.filter(at => at >= closeAt).length).toBe(CHECKS_AFTER_CLOSE);
  });

  it('wakes from its slow poll as soon as the popup closes', async () => {
    const closeAt = 1; // just after the first answer, early in the first sleep
    const run = scenario({ closeAt, serverAt: () => status() });
    await run.result;
    expect(run.asked[1]).toBeLessThanOrEqual(closeAt + CLOSE_CHECK_MS);
  });

  it('lasts as long as the server keeps a sign-in link (ten minutes)', async () => {
    const run = scenario({ closeAt: null, serverAt: () => status() });
    expect(await run.result).toEqual({ kind: 'failed', error: { kind: 'signin', message: '' } });
    expect(run.now()).toBeGreaterThanOrEqual(SIGN_IN_TIMEOUT_MS);
    expect(run.now()).toBeLessThan(SIGN_IN_TIMEOUT_MS + POLL_MS + CLOSE_CHECK_MS);
  });

  it('stops asking once the caller has its answer (the popup message came first)', async () => {
    const run = scenario({ closeAt: null, serverAt: () => status(), stopAt: 4000 });
    expect(await run.result).toEqual({ kind: 'stopped' });
    expect(Math.max(...run.asked)).toBeLessThan(4000);
  });

  it('gives up after its time limit with the popup still open: the sign-in expired', async () => {
    const run = scenario({ closeAt: null, serverAt: () => status(), timeoutMs: 60_000 });
    expect(await run.result).toEqual({ kind: 'failed', error: { kind: 'signin', message: '' } });
    expect(run.now()).toBeGreaterThanOrEqual(60_000);
    expect(run.asked.length).toBeLessThanOrEqual(Math.ceil(60_000 / POLL_MS) + 1);
  });

  it('says the close in plain words', () => {
    expect(CLOSED_TEXT).toMatch(/^The Google sign-in window was closed before you chose\./);
    expect(CLOSED_TEXT).not.toMatch(/popup|oauth|consent|error/i);
  });
});
