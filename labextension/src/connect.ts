/**
 * Connecting Google Drive: Google's consent page in a popup, so the student never leaves their
 * notebook. The callback page posts `{type: "drive-sync:connected"}` (or `drive-sync:error`
 * with the reason, e.g. consent denied) to its opener; a status poll covers the cases where
 * that message never arrives (opener cut, popup closed early), and status reports a failed
 * sign-in too. A sign-in that did not connect is said in this window, never only in the popup;
 * so is a popup the student closed before choosing (signin.ts tells that apart from a popup
 * that closed itself after an outcome).
 *
 * `openConsent` must be called synchronously from a click handler: browsers only allow
 * `window.open` during a user gesture.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { api } from './api';
import { showError } from './dialogs';
import { classifyError, toastText } from './errors';
import type { SyncModel } from './model';
import { CLOSED_TEXT, watchSignIn } from './signin';
import type { IRunError } from './types';

export const CONNECTED_MESSAGE = 'drive-sync:connected';
export const ERROR_MESSAGE = 'drive-sync:error';

const POPUP_FEATURES = 'popup=yes,width=520,height=680';

export interface IConsentOptions {
  /**
   * Work to do before the sign-in starts (Switch account: disconnect first). The popup is
   * opened blank at once, inside the click, and sent to the sign-in once this resolves.
   */
  before?: () => Promise<void>;
  /** Start again (from a click on the failure's toast): connect, then what followed. */
  retry?: () => void;
}

/** Open the consent popup now; resolves true once the account is connected. */
export function openConsent(model: SyncModel, options: IConsentOptions = {}): Promise<boolean> {
  const url = api.authStartUrl();
  const popup = window.open(options.before ? '' : url, 'drive-sync-consent', POPUP_FEATURES);
  if (!popup) {
    return (options.before ? options.before() : Promise.resolve()).then(() =>
      consentBlocked(model, url)
    );
  }
  popup.focus();
  const ready = options.before
    ? options.before().then(
        () => {
          popup.location.href = url;
        },
        (error: unknown) => {
          popup.close();
          throw error;
        }
      )
    : Promise.resolve();
  return ready.then(() => watch(model, () => !popup.closed, () => popup.close(), options.retry));
}

/** The popup was blocked: offer a link (a click on it is a fresh gesture). */
async function consentBlocked(model: SyncModel, url: string): Promise<boolean> {
  const body = new Widget();
  const text = document.createElement('p');
  text.textContent =
    'Your browser blocked the Google sign-in window. Open it with this link, then come back here:';
  const link = document.createElement('a');
  link.href = url;
  link.target = '_blank';
  link.rel = 'opener';
  link.textContent = 'Sign in with Google';
  link.className = 'jp-DriveSync-link';
  body.node.append(text, link);
  let opened = false;
  let dialogOpen = true;
  link.addEventListener('click', () => {
    opened = true;
  });
  // Closing this dialog without the link is the student's answer: nothing more to say.
  const waiting = watch(model, () => dialogOpen || opened, () => undefined, undefined, false);
  await showDialog({
    title: 'Connect Google Drive',
    body,
    buttons: [Dialog.cancelButton({ label: 'Close' })]
  });
  dialogOpen = false;
  return waiting;
}

/** Tell the student, in this window, that the sign-in did not connect and why. */
export function reportSignInFailure(error: IRunError, retry?: () => void): void {
  const actions: Notification.IAction[] = [];
  if (retry) {
    actions.push({ label: 'Connect again', callback: retry });
  }
  actions.push({
    label: 'Details',
    callback: () => void showError(error).then(again => (again && retry ? retry() : undefined))
  });
  Notification.error(toastText(error), { autoClose: false, actions });
  document.body.dataset.driveSyncSignin = error.kind;
}

/**
 * Say in this window that the student closed the sign-in before choosing: an info toast, not
 * an error (they did it on purpose), with the way back in.
 */
export function reportSignInClosed(retry?: () => void): void {
  const actions: Notification.IAction[] = retry ? [{ label: 'Connect again', callback: retry }] : [];
  Notification.info(CLOSED_TEXT, { autoClose: 15000, actions });
  document.body.dataset.driveSyncSignin = 'closed';
}

/**
 * Resolve when the popup reports how it ended, or the status says connected, failed, or (after
 * the popup closed) nothing: then the student closed it before choosing (`sayClosed`: tell them).
 */
function watch(
  model: SyncModel,
  isOpen: () => boolean,
  closePopup: () => void,
  retry?: () => void,
  sayClosed = true
): Promise<boolean> {
  document.body.dataset.driveSyncSignin = 'waiting';
  return new Promise<boolean>(resolve => {
    let settled = false;
    const finish = (connected: boolean, error: IRunError | null = null, closed = false) => {
      if (settled) {
        return;
      }
      settled = true;
      window.removeEventListener('message', onMessage);
      if (error) {
        closePopup();
        reportSignInFailure(error, retry);
      } else if (connected) {
        document.body.dataset.driveSyncSignin = 'connected';
      } else if (closed && sayClosed) {
        reportSignInClosed(retry);
      } else if (closed) {
        document.body.dataset.driveSyncSignin = 'closed';
      }
      resolve(connected);
    };
    const onMessage = (event: MessageEvent) => {
      if (event.origin !== window.location.origin) {
        return; // only our own server's callback page may say how the sign-in went
      }
      const data = event.data;
      if (!data || typeof data !== 'object') {
        return;
      }
      if (data.type === CONNECTED_MESSAGE) {
        void model.refresh().then(status => finish(!!status?.connected));
      } else if (data.type === ERROR_MESSAGE) {
        const error = classifyError(String(data.error || ''));
        finish(false, error && error.kind !== 'other' ? error : { kind: 'signin', message: '' });
      }
    };
    window.addEventListener('message', onMessage);
    void watchSignIn({
      status: () => model.refresh(),
      isOpen,
      sleep: ms => new Promise(wake => window.setTimeout(wake, ms)),
      now: () => Date.now(),
      stopped: () => settled
    }).then(outcome => {
      if (outcome.kind === 'failed') {
        finish(false, outcome.error);
      } else {
        // 'stopped': the message answered first (ten minutes with no answer end as 'failed').
        finish(outcome.kind === 'connected', null, outcome.kind === 'closed');
      }
    });
  });
}
