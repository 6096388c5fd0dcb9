/**
 * The notes example's list and editor, kept live by the client: the list follows the group of
 * every note (`notes-all`), the open note its own (`note-<id>`).
 */
import type { RohrpostClient, Update } from '../client/src';
import { byId } from './dom';

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

interface Feedback {
  /** The technical log. */
  readonly log: (text: string) => void;
  /** A short message for the person at the keyboard. */
  readonly tell: (text: string) => void;
}

export interface NotesView {
  /** Forgets every note shown, as after signing out; they load again with the next connection. */
  clear(): void;
}

export function showNotes(client: RohrpostClient, { log, tell }: Feedback): NotesView {
  const list = byId<HTMLUListElement>('notes');
  const count = byId<HTMLSpanElement>('count');
  const empty = byId<HTMLParagraphElement>('empty');
  const createForm = byId<HTMLFormElement>('create');
  const editor = byId<HTMLElement>('editor');
  const editForm = byId<HTMLFormElement>('edit');
  const save = byId<HTMLButtonElement>('save');
  const nothingOpen = byId<HTMLDivElement>('nothing-open');
  const editorNotice = byId<HTMLParagraphElement>('editor-notice');
  const meta = byId<HTMLParagraphElement>('meta');
  const field = (name: 'title' | 'body') =>
    editForm.elements.namedItem(name) as HTMLInputElement | HTMLTextAreaElement;

  const notes = new Map<string, NoteSummary>();
  let listed = false;
  let open: { id: string; unsubscribe: () => Promise<void> } | undefined;
  /** The note this tab is deleting, so that its deletion is not news to it. */
  let deleting: string | undefined;

  const everything = client.subscribe<NoteSummary>({ type: 'notes', id: 'all' });
  everything.on('subscribed', () => {
    if (!listed) void loadList();
  });
  everything.on('refetch', () => {
    listed = false;
    void loadList();
  });
  everything.on('update', (update) => {
    if (update.type === 'delete') notes.delete(update.object.id);
    else notes.set(update.object.id, update.object);
    renderList();
    log(describe(update));
  });
  client.on('recovered', ({ group, recovered, missed }) => {
    log(
      recovered
        ? `Back: ${missed} missed update${missed === 1 ? '' : 's'} of ${group} recovered.`
        : `Back: what ${group} missed is gone from the history; fetching it afresh.`,
    );
    if (group !== everything.name) return;
    tell(backOnline(recovered, missed));
  });

  /** Loads every note; when that fails (the connection dropped meanwhile), the next subscribe tries again. */
  async function loadList(): Promise<void> {
    let loaded: Note[];
    try {
      ({ notes: loaded } = await client.call<{ notes: Note[] }>('note.list'));
    } catch (error) {
      return log(`Could not load the notes: ${(error as Error).message}`);
    }
    notes.clear();
    for (const note of loaded) notes.set(note.id, { ...note, preview: note.preview ?? previewOf(note) });
    listed = true;
    renderList();
  }

  function renderList(): void {
    const sorted = [...notes.values()].sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? ''));
    list.replaceChildren(...sorted.map(entryOf));
    count.textContent = notes.size === 0 ? '' : String(notes.size);
    empty.hidden = !listed || notes.size > 0;
  }

  function entryOf(note: NoteSummary): HTMLLIElement {
    const item = document.createElement('li');
    item.dataset.id = note.id;
    item.tabIndex = 0;
    item.setAttribute('aria-selected', String(note.id === open?.id));
    const title = document.createElement('span');
    title.className = 'note-title';
    title.textContent = note.title || 'Untitled';
    title.title = title.textContent;
    const time = document.createElement('time');
    time.className = 'note-time';
    time.textContent = note.updatedAt ? shortTime(note.updatedAt) : '';
    const preview = document.createElement('span');
    preview.className = 'note-preview';
    preview.textContent = note.preview || 'No text';
    item.append(title, time, preview);
    item.addEventListener('click', () => void openNote(note.id));
    item.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') void openNote(note.id);
    });
    return item;
  }

  async function openNote(id: string): Promise<void> {
    if (open?.id === id) return;
    await leave(open);
    const subscription = client.subscribe<NoteSummary>({ type: 'note', id });
    open = { id, unsubscribe: () => subscription.unsubscribe() };
    // The list hears of this note's changes too; the editor reloads the whole note, unless edited.
    subscription.on('update', (update) => {
      if (update.type === 'delete') return closeNote(deletedNotice(id, update.object.title));
      if (!editForm.contains(document.activeElement)) void loadNote(id);
    });
    renderList();
    await loadNote(id);
    if (matchMedia('(max-width: 47.99rem)').matches) editor.scrollIntoView({ block: 'start' });
  }

  async function loadNote(id: string): Promise<void> {
    try {
      const { note } = await client.call<{ note: Note }>('note.get', { id });
      if (open?.id !== id) return;
      field('title').value = note.title ?? '';
      field('body').value = note.body ?? '';
      meta.textContent = note.updatedAt ? `Saved ${shortTime(note.updatedAt)}` : '';
      save.disabled = true;
      editForm.hidden = false;
      nothingOpen.hidden = true;
    } catch (error) {
      closeNote(`Could not open the note: ${(error as Error).message}`);
    }
  }

  /** Closes the editor, and says why when there is something to say. */
  function closeNote(notice?: string): void {
    void leave(open);
    open = undefined;
    editForm.reset();
    editForm.hidden = true;
    nothingOpen.hidden = false;
    editorNotice.textContent = notice ?? '';
    editorNotice.hidden = notice === undefined;
    renderList();
  }

  /** Stops following a note; when the connection is gone, its memberships went with it. */
  async function leave(note: typeof open): Promise<void> {
    await note?.unsubscribe().catch(() => undefined);
  }

  function deletedNotice(id: string, title: string | undefined): string {
    const name = `“${title || 'Untitled'}”`;
    if (deleting !== id) return `${name} was deleted elsewhere, so it was closed here.`;
    deleting = undefined;
    return `${name} was deleted.`;
  }

  createForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const title = (createForm.elements.namedItem('title') as HTMLInputElement).value;
    void attempt('add the note', async () => {
      const { note } = await client.call<{ note: Note }>('note.create', { title, body: '' });
      createForm.reset();
      await openNote(note.id);
    });
  });

  editForm.addEventListener('input', () => (save.disabled = false));
  // The title is one line that wraps: Enter moves on to the text, and pasted line breaks become spaces.
  field('title').addEventListener('keydown', (event) => {
    if ((event as KeyboardEvent).key !== 'Enter') return;
    event.preventDefault();
    field('body').focus();
  });
  field('title').addEventListener('input', () => {
    const title = field('title');
    if (/[\r\n]/.test(title.value)) title.value = title.value.replace(/[\r\n]+/g, ' ');
  });
  editForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!open) return;
    const { id } = open;
    void attempt('save', async () => {
      save.disabled = true;
      await client.call('note.update', { id, title: field('title').value, body: field('body').value });
      (document.activeElement as HTMLElement | null)?.blur();
      meta.textContent = 'Saved just now';
    });
  });

  byId<HTMLButtonElement>('delete').addEventListener('click', () => {
    if (!open) return;
    const { id } = open;
    deleting = id;
    void attempt('delete the note', () =>
      client.call('note.delete', { id }).catch((error: unknown) => {
        deleting = undefined;
        throw error;
      }),
    );
  });

  async function attempt(what: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      tell(`Could not ${what}: ${(error as Error).message}`);
      log(`Could not ${what}: ${(error as Error).message}`);
    }
  }

  return {
    clear() {
      closeNote();
      notes.clear();
      listed = false;
      renderList();
    },
  };
}

/** What the person at the keyboard hears when the list is back after a drop. */
function backOnline(recovered: boolean, missed: number): string {
  if (!recovered) return 'Back online. The notes were reloaded.';
  if (missed === 0) return 'Back online. Nothing changed meanwhile.';
  return `Back online. ${missed} change${missed === 1 ? '' : 's'} made meanwhile came in.`;
}

function previewOf(note: Note): string {
  return (note.body ?? '').slice(0, 80);
}

function describe(update: Update<NoteSummary>): string {
  const what = { create: 'created', update: 'updated', delete: 'deleted' }[update.type];
  const seq = update.seq === undefined ? '' : ` (seq ${update.seq})`;
  return `${update.group}: “${update.object.title ?? update.object.id}” ${what}${seq}.`;
}

/** The time of day for today, else the date. */
function shortTime(iso: string): string {
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString()
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}
