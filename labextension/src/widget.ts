/**
 * The always-visible backup indicator: a status-bar item in JupyterLab, a top-bar item in
 * Notebook 7 (which has no status bar). Same widget, same words; only its CSS differs.
 */
import { Widget } from '@lumino/widgets';

import { countText, describeError, percent, progressDetail, progressText, timeAgo } from './format';
import { SyncModel } from './model';
import { cloudIcon } from './icons';

export interface IStatusWidgetOptions {
  model: SyncModel;
  /** 'statusbar' (JupyterLab) or 'topbar' (Notebook 7). */
  placement: 'statusbar' | 'topbar';
  onOpen: () => void;
  onShowSkipped: () => void;
}

export class DriveSyncStatus extends Widget {
  constructor(private readonly options: IStatusWidgetOptions) {
    super();
    this.addClass('jp-DriveSync-status');
    this.addClass(`jp-DriveSync-${options.placement}`);
    this.id = `jp-DriveSync-status-${options.placement}`;
    this.node.setAttribute('role', 'status');
    this.node.setAttribute('aria-live', 'polite');

    this._main = document.createElement('button');
    this._main.className = 'jp-DriveSync-main';
    this._main.type = 'button';
    cloudIcon.element({ container: this._icon, tag: 'span', className: 'jp-DriveSync-icon' });
    this._main.append(this._icon, this._text);
    this._text.className = 'jp-DriveSync-text';
    this._main.addEventListener('click', () => this.options.onOpen());

    this._bar.className = 'jp-DriveSync-bar';
    this._bar.appendChild(this._barFill);
    this._barFill.className = 'jp-DriveSync-barFill';

    this._link.className = 'jp-DriveSync-driveLink';
    this._link.textContent = 'Open in Drive';
    this._link.target = '_blank';
    this._link.rel = 'noopener noreferrer';

    this._skipped.className = 'jp-DriveSync-skipped';
    this._skipped.type = 'button';
    this._skipped.addEventListener('click', () => this.options.onShowSkipped());

    this.node.append(this._main, this._bar, this._link, this._skipped);
    options.model.changed.connect(this.render, this);
    this.render();
  }

  dispose(): void {
    this.options.model.changed.disconnect(this.render, this);
    super.dispose();
  }

  /** Redraw from the model; cheap, so it runs on every model change. */
  render(): void {
    const { model } = this.options;
    const status = model.status;
    const job = model.job;
    const error = model.error;
    let state = 'idle';
    let text = '';
    let title = '';
    let showLink = false;
    let skipped = 0;
    let pct: number | null = null;

    if (!status || !status.configured) {
      state = 'hidden';
    } else if (model.running && job) {
      state = 'running';
      text = progressText(job);
      title = progressDetail(job);
      pct = percent(job);
    } else if (!status.connected) {
      state = 'disconnected';
      text = 'Back up to Google Drive';
      title = 'Your home folder is not backed up yet. Click to connect Google Drive.';
    } else if (error) {
      const words = describeError(error);
      state = error.kind === 'reconnect' ? 'reconnect' : 'error';
      text = error.kind === 'reconnect' ? 'Reconnect Google Drive' : `Backup stopped: ${words.title}`;
      title = words.text;
    } else if (status.lastPush?.finishedAt) {
      state = 'synced';
      text = `Synced ${timeAgo(status.lastPush.finishedAt)}`;
      title = `Backed up to Google Drive${status.account ? ` (${status.account})` : ''}. Click for details.`;
      showLink = !!status.rootFolderUrl;
      skipped = status.lastPush.skipped.length + status.lastPush.failed.length;
    } else {
      state = 'connected';
      text = 'Not synced yet';
      title = 'Connected to Google Drive. Press Sync now to back up your home folder.';
      showLink = !!status.rootFolderUrl;
    }

    this.node.dataset.state = state;
    this.setHidden(state === 'hidden');
    this._text.textContent = text;
    this._main.title = title;
    this._bar.style.display = state === 'running' ? '' : 'none';
    this._barFill.style.width = `${pct ?? 0}%`;
    this._bar.classList.toggle('jp-mod-indeterminate', state === 'running' && pct === null);
    this._link.style.display = showLink ? '' : 'none';
    if (showLink && status?.rootFolderUrl) {
      this._link.href = status.rootFolderUrl;
    }
    this._skipped.style.display = skipped ? '' : 'none';
    this._skipped.textContent = skipped ? `${countText(skipped, 'file')} skipped` : '';
  }

  private _main: HTMLButtonElement;
  private _icon = document.createElement('span');
  private _text = document.createElement('span');
  private _bar = document.createElement('span');
  private _barFill = document.createElement('span');
  private _link = document.createElement('a');
  private _skipped = document.createElement('button');
}
