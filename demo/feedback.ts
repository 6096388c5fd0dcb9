/** What the page tells: short messages for everyone, and a technical log for the curious. */

/** The connection's technical log, in "Connection details": newest first, the last 100 entries. */
export function activityLog(list: HTMLOListElement): (text: string) => void {
  return (text) => {
    const time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString();
    const entry = document.createElement('li');
    entry.append(time, text);
    list.prepend(entry);
    while (list.children.length > 100) list.lastElementChild?.remove();
  };
}

/** A short message for the person at the keyboard, shown for a few seconds; a newer one replaces it. */
export function toast(element: HTMLElement): (text: string) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (text) => {
    element.textContent = text;
    element.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => (element.hidden = true), 5_000);
  };
}
