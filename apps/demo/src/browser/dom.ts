/** Small DOM helpers shared by the page scripts. Text goes in with `textContent` only. */

/** The element with this id, of this type; throws if the page lacks it (a build mistake, not a user one). */
export function byId<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`page is missing #${id} (${type.name})`);
  return element;
}

/** Create an element with optional class and text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: { className?: string; text?: string } = {},
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (options.className !== undefined) element.className = options.className;
  if (options.text !== undefined) element.textContent = options.text;
  return element;
}

/**
 * Append `item` to `list`, keeping at most `max` children (oldest dropped). When the list
 * is its own scroll box and was scrolled to the end, it stays at the end; the page itself
 * never jumps.
 */
export function appendBounded(list: HTMLElement, item: HTMLElement, max: number): void {
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 8;
  list.append(item);
  while (list.children.length > max) list.firstElementChild?.remove();
  if (atEnd) list.scrollTop = list.scrollHeight;
}

/** A `<dl>` of label/value pairs. */
export function definitionList(rows: Array<[string, string]>, className = 'fields'): HTMLDListElement {
  const list = el('dl', { className });
  for (const [label, value] of rows) {
    const wrapper = el('div');
    wrapper.append(el('dt', { text: label }), el('dd', { text: value }));
    list.append(wrapper);
  }
  return list;
}

/** The current time as `12:34:56.789`, for log lines. */
export function clock(): string {
  const now = new Date();
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
}
