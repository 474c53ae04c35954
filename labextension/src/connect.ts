/**
 * Connecting Google Drive: Google's consent page in a popup, so the student never leaves their
 * notebook. The callback page posts `{type: "drive-sync:connected"}` to its opener; a status poll
 * covers the cases where that message never arrives (opener cut, popup closed early).
 *
 * `openConsent` must be called synchronously from a click handler: browsers only allow
 * `window.open` during a user gesture.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { api } from './api';
import type { SyncModel } from './model';

export const CONNECTED_MESSAGE = 'drive-sync:connected';

const POPUP_FEATURES = 'popup=yes,width=520,height=680';

/** Open the consent popup now; resolves true once the account is connected. */
export function openConsent(model: SyncModel): Promise<boolean> {
  const url = api.authStartUrl();
  const popup = window.open(url, 'drive-sync-consent', POPUP_FEATURES);
  if (!popup) {
    return consentBlocked(model, url);
  }
  popup.focus();
  return watch(model, () => !popup.closed);
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
  const waiting = watch(model, () => dialogOpen || opened);
  await showDialog({
    title: 'Connect Google Drive',
    body,
    buttons: [Dialog.cancelButton({ label: 'Close' })]
  });
  dialogOpen = false;
  return waiting;
}

/** Resolve when the popup reports success or the status says connected. */
function watch(model: SyncModel, isOpen: () => boolean): Promise<boolean> {
  return new Promise<boolean>(resolve => {
    let settled = false;
    const finish = (connected: boolean) => {
      if (settled) {
        return;
      }
      settled = true;
      window.removeEventListener('message', onMessage);
      resolve(connected);
    };
    const onMessage = (event: MessageEvent) => {
      if (event.origin !== window.location.origin) {
        return; // only our own server's callback page may say we are connected
      }
      const data = event.data;
      if (data && typeof data === 'object' && data.type === CONNECTED_MESSAGE) {
        void model.refresh().then(status => finish(!!status?.connected));
      }
    };
    window.addEventListener('message', onMessage);
    void model.waitForConnection(isOpen).then(finish);
  });
}
