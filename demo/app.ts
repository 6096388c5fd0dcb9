/**
 * The demo page of the notes example (`npm start`, then http://localhost:3001/): a list of
 * every note and an editor, kept live by the rohrpost client. Open it in two tabs, change a
 * note in one, or write one to DynamoDB directly, and watch the others follow.
 */
import type { Update } from '../client/src';
import { RohrpostClient } from '../client/src';

/** What a list entry shows: what lambdas/notification-hooks/notes.ts sends of a note. */
interface NoteSummary {
  readonly id: string;
  readonly title?: string;
  readonly preview?: string;
  readonly updatedAt?: string;
}

interface Note extends NoteSummary {
  readonly body?: string;
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state = byId<HTMLSpanElement>('state');
const list = byId<HTMLUListElement>('notes');
const empty = byId<HTMLParagraphElement>('empty');
const createForm = byId<HTMLFormElement>('create');
const editForm = byId<HTMLFormElement>('edit');
const nothingSelected = byId<HTMLParagraphElement>('nothing-selected');
const meta = byId<HTMLParagraphElement>('meta');
const log = byId<HTMLOListElement>('log');

const notes = new Map<string, NoteSummary>();
let selected: { id: string; unsubscribe: () => Promise<void> } | undefined;
/** The "drop" button holds the reconnect until then, so that there is something to recover. */
let offlineUntil = 0;

const client = new RohrpostClient({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`,
  // Called before every connect: the place to fetch a token; here, to wait out the drop.
  token: async () => {
    const wait = offlineUntil - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return undefined;
  },
});

client.on('open', ({ rollover }) => showState(rollover ? 'open (rolled over)' : 'open', 'open'));
client.on('close', ({ code }) => note(`Connection closed (${code}).`));
client.on('reconnecting', ({ delayMs }) => showState(`reconnecting in ${delayMs} ms`, 'reconnecting'));
client.on('recovered', ({ group, recovered, missed }) =>
  note(
    recovered
      ? `Back: ${missed} missed update${missed === 1 ? '' : 's'} of ${group} recovered.`
      : `Back: what ${group} missed is gone from the history; fetching it afresh.`,
  ),
);
client.on('error', (error) => note(`Error: ${error.message}`));

const everything = client.subscribe<NoteSummary>({ type: 'notes', id: 'all' });
let listed = false;
everything.on('subscribed', () => {
  if (!listed) void loadList();
  listed = true;
});
everything.on('refetch', () => void loadList());
everything.on('update', (update) => {
  if (update.type === 'delete') notes.delete(update.object.id);
  else notes.set(update.object.id, update.object);
  renderList();
  note(describe(update));
});

async function loadList(): Promise<void> {
  const { notes: loaded } = await client.call<{ notes: NoteSummary[] }>('note.list');
  notes.clear();
  for (const loadedNote of loaded) notes.set(loadedNote.id, { ...loadedNote, preview: preview(loadedNote) });
  renderList();
}

function renderList(): void {
  const sorted = [...notes.values()].sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? ''));
  list.replaceChildren(
    ...sorted.map((entry) => {
      const item = document.createElement('li');
      item.dataset.id = entry.id;
      item.setAttribute('aria-selected', String(entry.id === selected?.id));
      const title = document.createElement('strong');
      title.textContent = entry.title || '(untitled)';
      const text = document.createElement('span');
      text.textContent = entry.preview || ' ';
      item.append(title, text);
      item.addEventListener('click', () => void select(entry.id));
      return item;
    }),
  );
  empty.hidden = notes.size > 0;
}

async function select(id: string): Promise<void> {
  await selected?.unsubscribe();
  const subscription = client.subscribe<NoteSummary>({ type: 'note', id });
  selected = { id, unsubscribe: () => subscription.unsubscribe() };
  // The list hears of this note's changes too; the editor reloads the whole note, unless edited.
  subscription.on('update', (update) => {
    if (update.type === 'delete') return closeEditor('This note was deleted.');
    if (!editForm.contains(document.activeElement)) void loadNote(id);
  });
  renderList();
  await loadNote(id);
}

async function loadNote(id: string): Promise<void> {
  try {
    const { note: loaded } = await client.call<{ note: Note }>('note.get', { id });
    if (selected?.id !== id) return;
    field('title').value = loaded.title ?? '';
    field('body').value = loaded.body ?? '';
    meta.textContent = loaded.updatedAt ? `Updated ${new Date(loaded.updatedAt).toLocaleString()}` : '';
    editForm.hidden = false;
    nothingSelected.hidden = true;
  } catch (error) {
    closeEditor(`Could not open the note: ${(error as Error).message}`);
  }
}

function closeEditor(message: string): void {
  void selected?.unsubscribe();
  selected = undefined;
  editForm.hidden = true;
  nothingSelected.hidden = false;
  renderList();
  note(message);
}

createForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const title = (createForm.elements.namedItem('title') as HTMLInputElement).value;
  void attempt(async () => {
    const { note: created } = await client.call<{ note: Note }>('note.create', { title, body: '' });
    createForm.reset();
    await select(created.id);
  });
});

editForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!selected) return;
  const { id } = selected;
  void attempt(async () => {
    await client.call('note.update', { id, title: field('title').value, body: field('body').value });
    (document.activeElement as HTMLElement | null)?.blur();
  });
});

byId<HTMLButtonElement>('delete').addEventListener('click', () => {
  if (selected) void attempt(() => client.call('note.delete', { id: selected!.id }));
});

byId<HTMLButtonElement>('drop').addEventListener('click', () => {
  offlineUntil = Date.now() + 3_000;
  note('Dropping the connection for 3 s: changes made meanwhile are recovered when it is back.');
  client.dropConnection();
});

async function attempt(action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    note(`Could not do that: ${(error as Error).message}`);
  }
}

function field(name: 'title' | 'body'): HTMLInputElement | HTMLTextAreaElement {
  return editForm.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement;
}

function preview(entry: Note): string {
  return entry.preview ?? (entry.body ?? '').slice(0, 80);
}

function describe(update: Update<NoteSummary>): string {
  const what = { create: 'added', update: 'changed', delete: 'deleted' }[update.type];
  return `“${update.object.title ?? update.object.id}” ${what} (seq ${update.seq ?? '–'}).`;
}

function showState(text: string, value: string): void {
  state.textContent = text;
  state.dataset.state = value;
}

function note(text: string): void {
  const entry = document.createElement('li');
  entry.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  log.prepend(entry);
  while (log.children.length > 50) log.lastElementChild?.remove();
}
