/**
 * The cloud-with-arrow icon used by the toolbar button, the menus and the status item.
 * Drawn here (no third-party artwork); `jp-icon3` makes it follow the light/dark theme.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const CLOUD_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="8" cy="13.5" r="4.5"/>
    <circle cx="13" cy="10.5" r="5.5"/>
    <circle cx="18" cy="14.5" r="3.5"/>
    <rect x="7" y="13.5" width="11" height="4.5"/>
  </g>
  <path class="jp-icon-accent0" fill="#fff" d="M12.5 9.5 9 13h2.3v3.5h2.4V13H16z"/>
</svg>`;

export const cloudIcon = new LabIcon({ name: 'drive-sync:cloud', svgstr: CLOUD_SVG });
