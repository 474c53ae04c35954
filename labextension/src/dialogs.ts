/**
 * The dialogs: first-login prompt, skipped-files list, errors and the details panel.
 * Text is written for students: what happens, where, and what to do next.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { dialogBody, el } from './dom';
import { describeError, plainWords } from './errors';
import { countItems, countText, formatBytes, progressDetail, sortProblems, timeAgo } from './format';
import type { SyncModel } from './model';
import type { IFileProblem, IPushSummary, IRunError, IStatus } from './types';

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
    el('li', 'Backups run when you press “Sync now” (and nightly, if your hub schedules it). Changed files are updated in place, not copied again.'),
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
    el('li', 'Sync now: back up this home folder. Files already on Drive are matched and updated in place, not uploaded again.'),
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

/** A table of paths the backup left out, with the reason for each. */
export function problemTable(problems: IFileProblem[], className = 'jp-DriveSync-problems'): HTMLElement {
  const table = el('table', undefined, `jp-DriveSync-problems ${className}`);
  const head = el('tr');
  head.append(el('th', 'File or folder'), el('th', 'Why'));
  table.append(head);
  for (const problem of problems) {
    const row = el('tr');
    const name = problem.path || '(home)';
    row.append(el('td', problem.isFolder ? `${name}/` : name), el('td', plainReason(problem.reason)));
    table.append(row);
  }
  return table;
}

/** A reason without the exception names some per-file errors carry ("IsADirectoryError: "). */
function plainReason(reason: string): string {
  return plainWords(reason) || reason;
}

/**
 * What the last push did not copy, in three parts: real problems first, then notes, then what
 * was kept off Drive on purpose (secrets, the tool's own state, links), which is no warning.
 */
export function leftOutBody(summary: IPushSummary | null): HTMLElement[] {
  const { problems, notices, onPurpose } = sortProblems(summary);
  const parts: HTMLElement[] = [];
  if (problems.length) {
    parts.push(el('h3', `Could not be backed up (${countItems(problems)})`, 'jp-DriveSync-problemsTitle'));
    parts.push(el('p', 'These are not on Drive. Fix what the reason says, then press Sync now again.'));
    parts.push(problemTable(problems, 'jp-mod-problem'));
  }
  if (notices.length) {
    parts.push(el('h3', 'Good to know', 'jp-DriveSync-noticesTitle'));
    parts.push(problemTable(notices, 'jp-mod-notice'));
  }
  if (onPurpose.length) {
    parts.push(el('h3', `Not backed up on purpose (${countItems(onPurpose)})`, 'jp-DriveSync-onPurposeTitle'));
    parts.push(
      el(
        'p',
        'Secrets (keys, tokens, passwords), caches, links and Jupyter\'s own runtime files are never ' +
          'copied to Drive. Nothing needs to be done.'
      )
    );
    parts.push(problemTable(onPurpose, 'jp-mod-onPurpose'));
  }
  if (!parts.length) {
    parts.push(el('p', 'The last backup copied everything it should.'));
  }
  return parts;
}

/** The left-out paths of the last push, in their three parts. */
export async function showLeftOut(summary: IPushSummary | null): Promise<void> {
  const { problems } = sortProblems(summary);
  await showDialog({
    title: problems.length ? `${countItems(problems)} not backed up` : 'What the backup left out',
    body: dialogBody(...leftOutBody(summary)),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
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
  const offersConnect = error.kind === 'reconnect' || error.kind === 'denied' || error.kind === 'signin';
  const buttons = offersConnect
    ? [
        Dialog.cancelButton({ label: 'Later' }),
        Dialog.okButton({
          label: error.kind === 'reconnect' ? 'Reconnect Google Drive' : 'Connect Google Drive'
        })
      ]
    : [Dialog.okButton({ label: 'OK' })];
  const result = await showDialog({
    title,
    body: dialogBody(el('p', text, 'jp-DriveSync-errorText')),
    buttons
  });
  return offersConnect && result.button.accept;
}

export type DetailsAction =
  | 'sync'
  | 'connect'
  | 'skipped'
  | 'restore'
  | 'switch'
  | 'disconnect'
  | 'close';

const DETAILS_ACTIONS: DetailsAction[] = ['sync', 'connect', 'skipped', 'restore', 'switch', 'disconnect'];

/**
 * Everything about the backup in one place, opened from the status item and the File menu's
 * Google Drive entry: the account, the last sync, what it left out, and every action
 * (Sync now, Restore…, Switch Google account…, Disconnect).
 */
export async function showDetails(model: SyncModel, username?: string): Promise<DetailsAction> {
  const status = model.status;
  const job = model.job;
  const connected = !!status?.connected;
  const rows: Node[] = [];
  if (!connected) {
    rows.push(el('p', 'Google Drive is not connected yet.'));
    rows.push(el('p', `Connecting backs up your home folder into ${folderName(status, username)} in your own Google Drive.`));
  } else {
    rows.push(el('p', `Connected as ${status!.account ?? 'your Google account'}.`));
  }
  const last = status?.lastPush ?? null;
  if (model.running && job) {
    rows.push(el('p', progressDetail(job), 'jp-DriveSync-progressText'));
  } else if (last?.finishedAt) {
    rows.push(
      el(
        'p',
        `Last synced ${timeAgo(last.finishedAt)}: ${countText(last.created, 'new file')}, ` +
          `${countText(last.updated, 'updated file')}, ${formatBytes(last.bytesUploaded)} uploaded.`
      )
    );
  }
  const sorted = sortProblems(last);
  if (!model.running && sorted.problems.length) {
    rows.push(el('p', `${countItems(sorted.problems)} could not be backed up.`, 'jp-DriveSync-errorText'));
  }
  if (!model.running && sorted.onPurpose.length) {
    const names = sorted.onPurpose
      .slice(0, 3)
      .map(p => (p.isFolder ? `${p.path}/` : p.path))
      .join(', ');
    const more = sorted.onPurpose.length > 3 ? ', …' : '';
    rows.push(
      el(
        'p',
        `Not backed up on purpose: ${countItems(sorted.onPurpose)} (${names}${more}).`,
        'jp-DriveSync-onPurposeText'
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
  const leftOut = (last?.skipped.length ?? 0) + (last?.failed.length ?? 0);
  const buttons = [Dialog.cancelButton({ label: 'Close' })];
  if (leftOut) {
    buttons.push(Dialog.createButton({ label: 'What was not backed up', actions: ['skipped'] }));
  }
  if (connected) {
    buttons.push(Dialog.warnButton({ label: 'Disconnect', actions: ['disconnect'] }));
    buttons.push(Dialog.createButton({ label: 'Switch Google account…', actions: ['switch'] }));
  }
  if (!connected || error?.kind === 'reconnect') {
    buttons.push(Dialog.okButton({ label: 'Connect Google Drive', actions: ['connect'] }));
  } else if (!model.running) {
    buttons.push(Dialog.createButton({ label: 'Restore…', actions: ['restore'] }));
    buttons.push(Dialog.okButton({ label: 'Sync now', actions: ['sync'] }));
  }
  const result = await showDialog({ title: 'Google Drive backup', body: dialogBody(...rows), buttons });
  const action = result.button.actions.find(a => (DETAILS_ACTIONS as string[]).includes(a));
  return (action as DetailsAction | undefined) ?? 'close';
}

export const SWITCH_TITLE = 'Switch Google account?';

/** Confirm a switch: the backup goes to the next account; the old Drive keeps its copy. */
export async function confirmSwitch(status: IStatus | null): Promise<boolean> {
  const now = status?.account ?? 'the connected account';
  const result = await showDialog({
    title: SWITCH_TITLE,
    body: dialogBody(
      el('p', `This disconnects ${now} and opens Google's sign-in, where you choose another account.`),
      el(
        'p',
        'Your home folder is then backed up to that account\'s Google Drive. ' +
          `The backup already in ${now}'s Drive stays there as it is.`
      )
    ),
    buttons: [Dialog.cancelButton({ label: 'Cancel' }), Dialog.okButton({ label: 'Choose another account' })]
  });
  return result.button.accept;
}

/** Confirm a disconnect. */
export async function confirmDisconnect(status: IStatus | null): Promise<boolean> {
  const result = await showDialog({
    title: 'Disconnect Google Drive?',
    body: dialogBody(
      el(
        'p',
        `Backups to ${status?.account ?? 'your Google Drive'} stop, and this server forgets the sign-in. ` +
          'Your files on Google Drive stay where they are.'
      )
    ),
    buttons: [Dialog.cancelButton({ label: 'Cancel' }), Dialog.warnButton({ label: 'Disconnect' })]
  });
  return result.button.accept;
}
