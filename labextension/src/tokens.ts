/**
 * The extension's ids. They are contracts: `schema/plugin.json` names the commands for the
 * toolbars and the File menu, and users' settings are stored under the plugin id.
 */
export const PLUGIN_ID = 'jupyter-drive-sync:plugin';

export namespace CommandIDs {
  export const syncNow = 'drive-sync:sync-now';
  export const connect = 'drive-sync:connect';
  export const details = 'drive-sync:show-status';
  export const disconnect = 'drive-sync:disconnect';
  export const restore = 'drive-sync:restore';
  export const switchAccount = 'drive-sync:switch-account';
}
