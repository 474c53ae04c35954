/**
 * "Restore from Google Drive…": a dialog that browses what the Drive backup holds and lets the
 * student pick what to bring back (a folder, a file, or everything) and what happens to files
 * they already have. The listing comes from `GET drive-sync/remote`, one folder at a time, so a
 * large backup never has to be walked before the dialog opens.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { folderIcon, fileIcon, LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { api } from './api';
import { problemTable } from './dialogs';
import { dialogBody, el } from './dom';
import { describeError, errorOf, plainWords } from './errors';
import { countText, formatBytes, formatDate, OVERWRITE_CHOICES } from './format';
import type {
  IFileProblem,
  IRemoteEntry,
  IRemoteListing,
  IRestoreSummary,
  IRunError,
  OverwritePolicy
} from './types';

export const RESTORE_TITLE = 'Restore from Google Drive';

/** What the student chose: `path` relative to the home ("" = the whole backup). */
export interface IRestoreChoice {
  path: string;
  overwrite: OverwritePolicy;
}

/** Said wherever restore is offered: the drive.file permission limits what it can see. */
export const SCOPE_NOTE =
  'Only files backed up by this app are shown: the app may see only the files it created in ' +
  'your Google Drive, nothing else you keep there.';

function icon(labIcon: LabIcon): HTMLElement {
  return labIcon.element({ tag: 'span', className: 'jp-DriveSync-restoreIcon' });
}

let instances = 0;

/** The dialog's body: the backup browser, the selection and the overwrite choice. */
export class RestoreBrowser extends Widget implements Dialog.IBodyWidget<IRestoreChoice | null> {
  constructor(private readonly folder: string) {
    super();
    this.addClass('jp-DriveSync-dialog');
    this.addClass('jp-DriveSync-restore');
    this._group = `jp-DriveSync-restore-target-${++instances}`;

    const intro = el('p');
    intro.append(
      'Bring files back from your backup folder ',
      el('strong', folder),
      ' in Google Drive into your home folder.'
    );
    const note = el('p', SCOPE_NOTE, 'jp-DriveSync-scopeNote');

    this._up.type = 'button';
    this._up.className = 'jp-DriveSync-up jp-mod-styled';
    this._up.textContent = '↑ Up';
    this._up.title = 'Go up one folder';
    this._up.addEventListener('click', () => void this.load(parentOf(this._path)));
    const nav = el('div', undefined, 'jp-DriveSync-restoreNav');
    nav.append(this._up, this._crumbs);
    this._crumbs.className = 'jp-DriveSync-crumbs';

    this._list.className = 'jp-DriveSync-restoreList';
    this._chosen.className = 'jp-DriveSync-chosen';

    const policy = el('fieldset', undefined, 'jp-DriveSync-overwrite');
    policy.append(el('legend', 'If a file is already in your home folder:'));
    for (const choice of OVERWRITE_CHOICES) {
      const input = el('input');
      input.type = 'radio';
      input.name = `${this._group}-overwrite`;
      input.value = choice.value;
      input.checked = choice.value === this._overwrite;
      input.addEventListener('change', () => {
        if (input.checked) {
          this._overwrite = choice.value;
        }
      });
      const label = el('label', undefined, 'jp-DriveSync-choice');
      const words = el('span');
      words.append(el('strong', choice.label), el('br'), el('small', choice.help));
      label.append(input, words);
      policy.append(label);
    }

    this.node.append(intro, note, nav, this._list, this._chosen, policy);
  }

  /** The listing shown now (null until the first load succeeds). */
  get listing(): IRemoteListing | null {
    return this._listing;
  }

  getValue(): IRestoreChoice | null {
    return this._listing ? { path: this._selected, overwrite: this._overwrite } : null;
  }

  /** Show the backup's folder at `path`; resolves with the error when it cannot be listed. */
  async load(path: string): Promise<IRunError | null> {
    const token = ++this._loads;
    this._list.replaceChildren(el('p', 'Looking at your Drive backup…', 'jp-DriveSync-loading'));
    this._up.disabled = true;
    let listing: IRemoteListing;
    try {
      listing = await api.remote(path);
    } catch (error) {
      if (token !== this._loads) {
        return null;
      }
      const problem = errorOf(error);
      // The server's own sentence for a refusal of its own (e.g. no backup there), else the
      // kind's plain words: never a code or an empty line.
      const words = describeError(problem);
      const text =
        problem.kind === 'other' && plainWords(problem.message)
          ? plainWords(problem.message)
          : `${words.title}. ${words.text}`;
      this._list.replaceChildren(el('p', text, 'jp-DriveSync-errorText'));
      this._up.disabled = this._path === '' && path === '';
      return problem;
    }
    if (token !== this._loads) {
      return null;
    }
    this._listing = listing;
    this._path = listing.path;
    this._selected = listing.path;
    this._render();
    return null;
  }

  private _render(): void {
    const listing = this._listing!;
    this._up.disabled = this._path === '';
    this._crumbs.textContent = [this.folder, ...splitPath(this._path)].join(' › ');

    const table = el('table');
    const head = el('tr');
    head.append(el('th'), el('th', 'Name'), el('th', 'Size'), el('th', 'Last modified'));
    table.append(head);
    const everything = this._path
      ? `Everything in ${lastPart(this._path)}`
      : 'Everything (your whole backup)';
    table.append(this._row(everything, this._path, null));
    for (const entry of listing.entries) {
      table.append(this._row(entry.name, entry.path, entry));
    }
    if (!listing.entries.length) {
      const row = el('tr');
      const cell = el('td', 'This folder is empty on Drive.', 'jp-DriveSync-empty');
      cell.colSpan = 4;
      row.append(cell);
      table.append(row);
    }
    this._list.replaceChildren(table);
    this._showChosen();
  }

  /** One selectable row; folders also open on a click on their name. */
  private _row(label: string, path: string, entry: IRemoteEntry | null): HTMLTableRowElement {
    const row = el('tr');
    const radio = el('input');
    radio.type = 'radio';
    radio.name = this._group;
    radio.value = path;
    radio.checked = path === this._selected;
    radio.setAttribute('aria-label', `Restore ${label}`);
    radio.addEventListener('change', () => {
      if (radio.checked) {
        this._selected = path;
        this._showChosen();
      }
    });
    const pick = el('td');
    pick.append(radio);

    const name = el('td', undefined, 'jp-DriveSync-entryName');
    if (!entry) {
      name.append(el('em', label));
      row.className = 'jp-DriveSync-everything';
    } else if (entry.isFolder) {
      const open = el('button', undefined, 'jp-DriveSync-openFolder');
      open.type = 'button';
      open.title = `Open ${entry.name}`;
      open.setAttribute('aria-label', `Open folder ${entry.name}`);
      open.append(icon(folderIcon), el('span', `${entry.name}/`));
      open.addEventListener('click', () => void this.load(entry.path));
      name.append(open);
    } else {
      name.append(icon(fileIcon), el('span', entry.name));
    }
    if (entry?.note) {
      name.append(el('small', ` (${entry.note})`, 'jp-DriveSync-note'));
    }
    if (entry && !entry.restorable) {
      radio.disabled = true;
      row.classList.add('jp-mod-disabled');
    }
    row.dataset.path = path;
    row.append(
      pick,
      name,
      el('td', entry && !entry.isFolder && entry.size !== null ? formatBytes(entry.size) : ''),
      el('td', entry ? formatDate(entry.modified) : '')
    );
    return row;
  }

  private _showChosen(): void {
    this._chosen.replaceChildren(
      'Will restore: ',
      el('strong', this._selected ? this._selected : 'your whole backup')
    );
  }

  private _group: string;
  private _path = '';
  private _selected = '';
  private _overwrite: OverwritePolicy = 'never';
  private _listing: IRemoteListing | null = null;
  private _loads = 0;
  private _up = el('button');
  private _crumbs = el('span');
  private _list = el('div');
  private _chosen = el('p');
}

function splitPath(path: string): string[] {
  return path.split('/').filter(Boolean);
}

function lastPart(path: string): string {
  const parts = splitPath(path);
  return parts[parts.length - 1] ?? path;
}

function parentOf(path: string): string {
  return splitPath(path).slice(0, -1).join('/');
}

/**
 * Ask what to restore. Resolves with the choice, null when cancelled, or the error when the
 * backup cannot be listed at all (nothing backed up yet, reconnect needed...).
 */
export async function showRestoreDialog(
  folder: string
): Promise<IRestoreChoice | IRunError | null> {
  const browser = new RestoreBrowser(folder);
  const problem = await browser.load('');
  if (problem) {
    browser.dispose();
    return problem;
  }
  const result = await showDialog<IRestoreChoice | null>({
    title: RESTORE_TITLE,
    body: browser,
    buttons: [
      Dialog.cancelButton({ label: 'Cancel' }),
      Dialog.okButton({ label: 'Restore', className: 'jp-DriveSync-restoreButton' })
    ],
    defaultButton: 1
  });
  return result.button.accept ? result.value : null;
}

export function isChoice(value: IRestoreChoice | IRunError | null): value is IRestoreChoice {
  return !!value && 'overwrite' in value;
}

/** The end of a restore in full: counts and every renamed, skipped or failed file. */
export async function showRestoreSummary(summary: IRestoreSummary): Promise<void> {
  const list = el('ul');
  const line = (n: number, text: string) => {
    if (n) {
      list.append(el('li', text));
    }
  };
  line(summary.restored, `${countText(summary.restored, 'file')} restored`);
  line(summary.replaced, `${countText(summary.replaced, 'file')} replaced by Drive's copy`);
  line(summary.skippedExisting, `${countText(summary.skippedExisting, 'file')} of yours kept as they were`);
  line(summary.unchanged, `${countText(summary.unchanged, 'file')} already identical`);
  line(summary.foldersCreated, `${countText(summary.foldersCreated, 'folder')} created`);
  line(summary.bytesDownloaded, `${formatBytes(summary.bytesDownloaded)} downloaded`);
  const children: Node[] = [list];
  const problems: IFileProblem[] = [
    ...summary.renamed.map(p => ({ ...p, reason: `renamed: ${p.reason}` })),
    ...summary.skipped,
    ...summary.failed
  ];
  if (problems.length) {
    children.push(el('p', 'Renamed or not restored:'), problemTable(problems));
  }
  await showDialog({
    title: 'Restore finished',
    body: dialogBody(...children),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}
