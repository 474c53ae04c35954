/**
 * The always-visible backup indicator: a status-bar item in JupyterLab, a top-bar item in
 * Notebook 7 (which has no status bar). Same widget, same words (`indicatorView` in format.ts
 * decides them); only its CSS differs.
 */
import { Widget } from '@lumino/widgets';

import { indicatorView } from './format';
import { cloudIcon } from './icons';
import type { SyncModel } from './model';

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
    const view = indicatorView(model.status, model.job, model.running, model.error);
    const running = view.state === 'running';
    this.node.dataset.state = view.state;
    this.setHidden(view.state === 'hidden');
    this._text.textContent = view.text;
    this._main.title = view.title;
    this._bar.style.display = running ? '' : 'none';
    this._barFill.style.width = `${view.percent ?? 0}%`;
    this._bar.classList.toggle('jp-mod-indeterminate', running && view.percent === null);
    this._link.style.display = view.driveUrl ? '' : 'none';
    if (view.driveUrl) {
      this._link.href = view.driveUrl;
    }
    this._skipped.style.display = view.problems ? '' : 'none';
    this._skipped.textContent = view.problemsText;
  }

  private _main: HTMLButtonElement;
  private _icon = document.createElement('span');
  private _text = document.createElement('span');
  private _bar = document.createElement('span');
  private _barFill = document.createElement('span');
  private _link = document.createElement('a');
  private _skipped = document.createElement('button');
}
