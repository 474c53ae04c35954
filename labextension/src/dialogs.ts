/**
 * The dialogs: first-login prompt, skipped-files list, errors and the details panel.
 * Text is written for students: what happens, where, and what to do next.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { dialogBody, el } from './dom';
import { describeError } from './errors';
import { countText, formatBytes, progressDetail, timeAgo } from './format';
import type { SyncModel } from './model';
import type { IFileProblem, IRunError, IStatus } from './types';

export type PromptAnswer = 'connect' | 'not-now' | 'never';

export const PROMPT_TITLE = 'Back up your home folder to Google Drive?';

/** The folder name to show: what the server says, else the default template. */
export function folderName(status: IStatus | null, username?: string): string {
  if (status?.folder) {
    return status.folder;
  }
  return username ? `home/${username}` : 'home/<your username>';
}

/** First-login question. Escape or closing counts as "Not now". */
export async function showPrompt(status: IStatus | null, username?: string): Promise<PromptAnswer> {
  const intro = el('p');
  intro.append(
    'Your notebooks and files in your home folder will be copied into a folder named ',
    el('strong', folderName(status, username)),
    ' in your own Google Drive, so your work stays yours after the course ends.'
  );
  const list = el('ul');
  list.append(
    el('li', 'Backups run when you press “Sync now” (and nightly, if your hub schedules it). Changed files are updated in place; nothing is duplicated.'),
    el('li', 'Not copied: caches and environments (.cache, node_modules, .venv, …) and secrets such as .ssh or cloud credentials.'),
    el('li', 'This app can see only the files it creates in your Drive, nothing else.')
  );
  const never = Dialog.cancelButton({ label: "Don't ask again", className: 'jp-DriveSync-never' });
  const notNow = Dialog.cancelButton({ label: 'Not now', className: 'jp-DriveSync-notnow' });
  const connect = Dialog.okButton({ label: 'Connect Google Drive', className: 'jp-DriveSync-connect' });
  const result = await showDialog({
    title: PROMPT_TITLE,
    body: dialogBody(intro, list),
    buttons: [never, notNow, connect],
    defaultButton: 2
  });
  if (result.button.label === connect.label && result.button.accept) {
    return 'connect';
  }
  if (result.button.label === never.label) {
    return 'never';
  }
  return 'not-now';
}

export type RestoreOfferAnswer = 'restore' | 'sync' | 'later';

export const RESTORE_OFFER_TITLE = 'Your Google Drive already has a backup';

/**
 * Right after connecting, when the Drive folder already holds a backup (a new hub, a new
 * volume, a new term): bring the files back first, or back up this home now.
 */
export async function showRestoreOffer(
  status: IStatus | null,
  username?: string
): Promise<RestoreOfferAnswer> {
  const intro = el('p');
  intro.append(
    'Your backup folder ',
    el('strong', folderName(status, username)),
    ' in Google Drive already holds files, backed up from an earlier home folder.'
  );
  const list = el('ul');
  list.append(
    el('li', 'Restore my files: choose what to bring back into this home folder. Files you have here are kept unless you choose otherwise.'),
    el('li', 'Sync now: back up this home folder. Files already on Drive are matched and updated, never duplicated.'),
    el('li', 'Only files backed up by this app can be seen and restored.')
  );
  const later = Dialog.cancelButton({ label: 'Later' });
  const sync = Dialog.createButton({ label: 'Sync now', actions: ['sync'] });
  const restore = Dialog.okButton({ label: 'Restore my files', actions: ['restore'] });
  const result = await showDialog({
    title: RESTORE_OFFER_TITLE,
    body: dialogBody(intro, list),
    buttons: [later, sync, restore],
    defaultButton: 2
  });
  if (result.button.actions.includes('restore')) {
    return 'restore';
  }
  return result.button.actions.includes('sync') ? 'sync' : 'later';
}

/** A table of files the backup left out, with the reason for each. */
export function problemTable(problems: IFileProblem[]): HTMLElement {
  const table = el('table', undefined, 'jp-DriveSync-problems');
  const head = el('tr');
  head.append(el('th', 'File'), el('th', 'Why'));
  table.append(head);
  for (const problem of problems) {
    const row = el('tr');
    row.append(el('td', problem.path || '(home)'), el('td', problem.reason));
    table.append(row);
  }
  return table;
}

export async function showProblems(title: string, problems: IFileProblem[]): Promise<void> {
  await showDialog({
    title,
    body: dialogBody(problemTable(problems)),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

/** An error in words; resolves true when the student chose the offered fix (reconnect). */
export async function showError(error: IRunError): Promise<boolean> {
  const { title, text } = describeError(error);
  const buttons =
    error.kind === 'reconnect'
      ? [Dialog.cancelButton({ label: 'Later' }), Dialog.okButton({ label: 'Reconnect Google Drive' })]
      : [Dialog.okButton({ label: 'OK' })];
  const result = await showDialog({ title, body: dialogBody(el('p', text)), buttons });
  return error.kind === 'reconnect' && result.button.accept;
}

export type DetailsAction = 'sync' | 'connect' | 'skipped' | 'restore' | 'close';

/** Everything about the backup in one place: opened from the status item. */
export async function showDetails(model: SyncModel, username?: string): Promise<DetailsAction> {
  const status = model.status;
  const job = model.job;
  const rows: Node[] = [];
  if (!status?.connected) {
    rows.push(el('p', 'Google Drive is not connected yet.'));
    rows.push(el('p', `Connecting backs up your home folder into ${folderName(status, username)} in your own Google Drive.`));
  } else {
    rows.push(el('p', `Connected as ${status.account ?? 'your Google account'}.`));
  }
  if (model.running && job) {
    rows.push(el('p', progressDetail(job), 'jp-DriveSync-progressText'));
  } else if (status?.lastPush?.finishedAt) {
    const last = status.lastPush;
    rows.push(
      el(
        'p',
        `Last synced ${timeAgo(last.finishedAt!)}: ${countText(last.created, 'new file')}, ` +
          `${countText(last.updated, 'updated file')}, ${formatBytes(last.bytesUploaded)} uploaded.`
      )
    );
  }
  if (status?.rootFolderUrl) {
    const link = el('a', 'Open the backup folder in Google Drive', 'jp-DriveSync-link');
    link.href = status.rootFolderUrl;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    rows.push(el('p'));
    rows[rows.length - 1].appendChild(link);
  }
  const error = model.error;
  if (error) {
    const words = describeError(error);
    rows.push(el('p', `${words.title}. ${words.text}`, 'jp-DriveSync-errorText'));
  }
  const skipped = status?.lastPush?.skipped ?? [];
  const buttons = [Dialog.cancelButton({ label: 'Close' })];
  if (skipped.length) {
    buttons.unshift(Dialog.createButton({ label: `Show ${countText(skipped.length, 'skipped file')}`, actions: ['skipped'] }));
  }
  if (!status?.connected || error?.kind === 'reconnect') {
    buttons.push(Dialog.okButton({ label: 'Connect Google Drive', actions: ['connect'] }));
  } else if (!model.running) {
    if (status.hasBackup) {
      buttons.push(Dialog.createButton({ label: 'Restore…', actions: ['restore'] }));
    }
    buttons.push(Dialog.okButton({ label: 'Sync now', actions: ['sync'] }));
  }
  const result = await showDialog({ title: 'Google Drive backup', body: dialogBody(...rows), buttons });
  const action = result.button.actions.find(
    a => a === 'sync' || a === 'connect' || a === 'skipped' || a === 'restore'
  );
  return (action as DetailsAction | undefined) ?? 'close';
}
