/**
 * Where the always-visible backup indicator goes: the status bar in JupyterLab, the top bar in
 * Notebook 7 (which has no status bar), or the top area when neither registry is there.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { IToolbarWidgetRegistry } from '@jupyterlab/apputils';
import type { IStatusBar } from '@jupyterlab/statusbar';
import { Widget } from '@lumino/widgets';

import type { SyncActions } from './actions';
import { PLUGIN_ID } from './tokens';
import { DriveSyncStatus } from './widget';

/** Name of the TopBar toolbar item (see schema/plugin.json). */
const TOPBAR_ITEM = 'drive-sync-status';

/** Put the indicator in the one place this front end shows it. */
export function placeIndicator(
  app: JupyterFrontEnd,
  actions: SyncActions,
  statusBar: IStatusBar | null,
  toolbarRegistry: IToolbarWidgetRegistry | null
): void {
  const makeIndicator = (placement: 'statusbar' | 'topbar') =>
    new DriveSyncStatus({
      model: actions.model,
      placement,
      onOpen: () => void actions.openDetails(),
      onShowSkipped: () => void actions.showSkipped()
    });
  if (statusBar) {
    statusBar.registerStatusItem(PLUGIN_ID, {
      item: makeIndicator('statusbar'),
      align: 'left',
      rank: 900,
      isActive: () => true
    });
  }
  if (toolbarRegistry) {
    toolbarRegistry.addFactory('TopBar', TOPBAR_ITEM, () => {
      if (statusBar) {
        // JupyterLab shows the status bar item; an empty placeholder avoids a duplicate.
        const placeholder = new Widget();
        placeholder.hide();
        return placeholder;
      }
      return makeIndicator('topbar');
    });
  } else if (!statusBar) {
    app.shell.add(makeIndicator('topbar'), 'top', { rank: 1000 });
  }
}
