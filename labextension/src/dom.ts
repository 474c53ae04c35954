/**
 * The one DOM helper the dialogs are built from, so every dialog body gets the same class
 * (and so the same styling) without repeating `createElement` boilerplate.
 */
import { Widget } from '@lumino/widgets';

/** A DOM element with optional text and class. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) {
    node.textContent = text;
  }
  if (className) {
    node.className = className;
  }
  return node;
}

/** A dialog body holding `children`, styled by `jp-DriveSync-dialog`. */
export function dialogBody(...children: Node[]): Widget {
  const widget = new Widget();
  widget.addClass('jp-DriveSync-dialog');
  widget.node.append(...children);
  return widget;
}
