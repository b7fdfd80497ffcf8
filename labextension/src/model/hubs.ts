/**
 * The hubs to ask: the server's list (the user's own hub first, then the added ones, then the
 * own hub's linked hubs), which of them are ticked, adding or removing a hub, and linking or
 * unlinking the user's account on a linked hub.
 */
import { INewHub, validateNewHub } from '../form';
import {
  APIError,
  IAddedHub,
  IHub,
  IHubsResponse,
  IUnlinkResponse,
  LinkState,
  RequestFunction,
  ValidationError
} from '../types';
import { ErrorState } from './errors';
import {
  canAsk,
  hubKind,
  httpUrl,
  LINK_WINDOW,
  linkMessage,
  linkState,
  relinkNotice,
  withLinkState
} from './links';
import { errorText, State } from './state';

/** The link page's window, as far as the panel looks at it (`window.open`'s answer). */
export interface ILinkWindow {
  readonly closed: boolean;
  /** Closes it (the panel does, once linked: a page that went through another site may not
   * close itself). */
  close?(): void;
}

/** Opens the link page in a window of its own (`window.open` in JupyterLab; a fake in tests);
 * answers that window when it can. */
export type OpenWindow = (
  url: string,
  target: string
) => ILinkWindow | null | undefined | void;

/** While the link page is open, the list is fetched again this often (the page's message or the
 * focus coming back may not reach the panel: another origin, a headless browser)... */
export const LINK_POLL_MS = 3000;
/** ...for at most this long. */
export const LINK_POLL_LIMIT_MS = 10 * 60 * 1000;

/** Asks the person before a link is undone (a JupyterLab dialog in the panel); true: go on. */
export type UnlinkConfirm = (hub: IHub) => Promise<boolean>;

function openInBrowser(url: string, target: string): ILinkWindow | null {
  return globalThis.open?.(url, target) ?? null;
}

export class HubsModel extends State {
  constructor(request: RequestFunction, errors: ErrorState) {
    super();
    this._request = request;
    this._errors = errors;
  }

  /** The hubs, as the server lists them (own hub first). */
  get list(): readonly IHub[] {
    return this._hubs;
  }

  get loading(): boolean {
    return this._loading;
  }

  isSelected(name: string): boolean {
    return this._selected.has(name);
  }

  /** The ticked hubs, in the list's order. */
  get selected(): string[] {
    return this._hubs.filter(h => this._selected.has(h.name)).map(h => h.name);
  }

  setSelected(name: string, selected: boolean): void {
    const hub = this._hubs.find(h => h.name === name);
    if (selected && hub && !canAsk(hub)) {
      return; // a linked hub whose account is not linked cannot be asked
    }
    if (selected) {
      this._selected.add(name);
    } else {
      this._selected.delete(name);
    }
    this.emit();
  }

  /** Load the hub list; the own hub is ticked the first time it is seen. */
  async load(): Promise<void> {
    this._loading = true;
    this.emit();
    try {
      const data = await this._request<IHubsResponse>('hubs');
      this._take(data);
      this._errors.set(null);
    } catch (error) {
      this._errors.set(errorText(error));
    } finally {
      this._loading = false;
      this.emit();
    }
  }

  /**
   * Fetch the list again without a fuss (the panel's window got the focus back, e.g. from the link
   * page): the error line is left alone, and a failure changes nothing.
   */
  async refresh(): Promise<void> {
    if (this._loading || this._refreshing) {
      return;
    }
    this._refreshing = true;
    try {
      this._take(await this._request<IHubsResponse>('hubs'));
    } catch {
      return; // the next Ask or load says what is wrong
    } finally {
      this._refreshing = false;
    }
    this.emit();
  }

  /** Whether the list has linked hubs (the panel then refreshes it when its window gets focus). */
  get hasLinkedHubs(): boolean {
    return this._hubs.some(h => hubKind(h) === 'linked');
  }

  /** Why the own hub's linked hubs could not (all) be listed; null when they were. */
  get linksError(): string | null {
    return this._linksError;
  }

  /** The last word about linking (opened, linked, unlinked, link again); null when none. */
  get linkNotice(): string | null {
    return this._linkNotice;
  }

  /** Opens the link page (set by the plugin; by default the browser's `window.open`). */
  openWindow: OpenWindow = openInBrowser;

  /** Asked before a link is undone (the plugin sets a dialog; by default: yes). */
  confirmUnlink: UnlinkConfirm = async () => true;

  /**
   * Open the link page of a linked hub (its login and consent there, in a window of its own);
   * the list is fetched again when the page says it is done, or when the panel's window gets the
   * focus back. Synchronous, so that the browser lets the click open the window. Answers whether
   * the page was opened.
   */
  link(name: string): boolean {
    const hub = this._hubs.find(h => h.name === name);
    const url = hub ? httpUrl(hub.link?.authorize) : null;
    if (!hub || linkState(hub) === null || url === null) {
      this._errors.set(
        `Could not link your account on ${name}: your hub gave no link page for it; reload the list, or ask your hub's admin.`
      );
      return false;
    }
    this._linkNotice = `${name}: log in there in the window that opened; this list updates when you are back.`;
    this._linking.add(name);
    this.emit();
    this._watch(name, this.openWindow(url, LINK_WINDOW) ?? null);
    return true;
  }

  dispose(): void {
    this._stopWatching();
    super.dispose();
  }

  /**
   * Fetch the list again every `LINK_POLL_MS` while the link page of `name` is open, until the hub
   * is linked, the window is closed (then once more), or `LINK_POLL_LIMIT_MS` have passed.
   */
  private _watch(name: string, win: ILinkWindow | null): void {
    this._stopWatching();
    this._linkWindow = win;
    const started = Date.now();
    const tick = async (): Promise<void> => {
      this._watchTimer = null;
      const closed = win?.closed ?? false;
      await this.refresh();
      const hub = this._hubs.find(h => h.name === name);
      if (hub && linkState(hub) === 'linked') {
        this._closeLinkWindow();
      }
      const done =
        this.isDisposed ||
        closed ||
        !hub ||
        linkState(hub) === 'linked' ||
        Date.now() - started >= LINK_POLL_LIMIT_MS;
      if (!done && this._watchTimer === null) {
        this._watchTimer = setTimeout(() => void tick(), LINK_POLL_MS);
      }
    };
    this._watchTimer = setTimeout(() => void tick(), LINK_POLL_MS);
  }

  private _closeLinkWindow(): void {
    const win = this._linkWindow;
    this._linkWindow = null;
    if (win && !win.closed) {
      win.close?.();
    }
  }

  private _stopWatching(): void {
    if (this._watchTimer !== null) {
      clearTimeout(this._watchTimer);
      this._watchTimer = null;
    }
  }

  /**
   * The link page's message to this window (`origin`: where it came from; `ownOrigin`: the
   * panel's): "linked" fetches the list again (the hub is then ticked), "link-failed" shows why.
   * Any other message is not for the panel and is ignored. Answers whether it was the link page's.
   */
  async linkMessage(
    data: unknown,
    origin: string,
    ownOrigin: string
  ): Promise<boolean> {
    const message = linkMessage(data, origin, ownOrigin);
    if (!message) {
      return false;
    }
    const hub = message.hub ?? 'the hub';
    if (message.event === 'linked') {
      if (message.hub) {
        this._linking.add(message.hub);
      }
      this._linkNotice = message.user
        ? `${hub}: linked as ${message.user}.`
        : `${hub}: linked.`;
      this._closeLinkWindow();
      this.emit();
    } else {
      this._linkNotice = null;
      this._errors.set(
        `Could not link your account on ${hub}: ${message.message ?? 'the hub did not say why'}`
      );
    }
    await this.refresh();
    return true;
  }

  /**
   * Undo a link, once the person confirms: the own hub revokes the token on that hub and forgets
   * it. Answers true when it did.
   */
  async unlink(name: string): Promise<boolean> {
    const hub = this._hubs.find(h => h.name === name);
    if (!hub || !(await this.confirmUnlink(hub))) {
      return false;
    }
    let answer: IUnlinkResponse | undefined;
    try {
      answer = await this._request<IUnlinkResponse>(
        `hubs/${encodeURIComponent(name)}/unlink`,
        { method: 'POST' }
      );
    } catch (error) {
      this._errors.set(`Could not unlink ${name}: ${errorText(error)}`);
      return false;
    }
    this._errors.set(null);
    this._selected.delete(name);
    this._linkNotice =
      answer?.message ||
      (answer?.revoked === false
        ? `${name}: unlinked here; the token could not be revoked there.`
        : `${name}: unlinked.`);
    await this.load();
    return true;
  }

  /**
   * A hub answered that the account there is not linked (`unlinked`) or must be linked again
   * (`expired`): its row shows that (not an error), and it is no longer ticked.
   */
  markLink(name: string, state: LinkState): void {
    const hub = this._hubs.find(h => h.name === name);
    if (!hub || hubKind(hub) !== 'linked') {
      return;
    }
    this._hubs = this._hubs.map(h =>
      h.name === name ? withLinkState(h, state) : h
    );
    this._selected.delete(name);
    this._linkNotice = relinkNotice(name, state);
    this.emit();
  }

  /** The problems of the last Add, by field (`name`, `url`, `token`), shown next to each. */
  get addProblems(): Readonly<Record<string, string>> {
    return this._addProblems;
  }

  /** The last Add failed because the hub could not be reached: it may be added unchecked. */
  get unreachable(): boolean {
    return this._unreachable;
  }

  /** Forget the problem shown next to a field of the add form (the person is changing it). */
  clearProblem(field: string): void {
    if (field in this._addProblems) {
      const { [field]: _gone, ...rest } = this._addProblems;
      void _gone;
      this._addProblems = rest;
      if (
        Object.keys(rest).length === 0 &&
        this._errors.message === this._addError
      ) {
        this._errors.set(null); // the line said the same as the problem gone
      }
      this.emit();
    }
  }

  /** After an Add: "B: connected as alice" (the hub checked the token); null otherwise. */
  get connected(): string | null {
    return this._connected;
  }

  /**
   * Add (or replace) a hub, once the server has checked it (it answers, runs the broker, takes the
   * token); the new hub is ticked. Answers true when the server kept it, else sets the problems
   * (by field) and the error line.
   */
  async add(hub: INewHub, check = true): Promise<boolean> {
    let checked: INewHub;
    this._connected = null;
    this._unreachable = false;
    try {
      checked = validateNewHub(hub, this._hubs);
    } catch (error) {
      this._addProblems =
        error instanceof ValidationError ? { ...error.fields } : {};
      this._addError = errorText(error);
      this._errors.set(this._addError);
      return false;
    }
    let added: IAddedHub;
    try {
      added = await this._request<IAddedHub>('hubs', {
        method: 'POST',
        body: JSON.stringify(check ? checked : { ...checked, check: false })
      });
    } catch (error) {
      const field = error instanceof APIError ? error.field : null;
      this._addProblems = field ? { [field]: errorText(error) } : {};
      // a hub that cannot be reached now may be added anyway (it is checked at each Ask)
      this._unreachable =
        field === 'url' && /cannot reach/.test(errorText(error));
      this._addError = `Could not add hub "${checked.name}": ${errorText(error)}`;
      this._errors.set(this._addError);
      return false;
    }
    this._addProblems = {};
    this._errors.set(null);
    this._selected.add(checked.name);
    this._connected = added?.user
      ? `${checked.name}: connected as ${added.user}`
      : `${checked.name}: added without a check (it could not be reached)`;
    await this.load();
    return true;
  }

  /** Forget a hub and its token (the own hub cannot be removed: the server says so). */
  async remove(name: string): Promise<void> {
    try {
      await this._request<void>(`hubs/${encodeURIComponent(name)}`, {
        method: 'DELETE'
      });
      this._selected.delete(name);
      this._errors.set(null);
    } catch (error) {
      this._errors.set(`Could not remove hub "${name}": ${errorText(error)}`);
      return;
    }
    await this.load();
  }

  private _take(data: IHubsResponse | undefined): void {
    this._setHubs(Array.isArray(data?.hubs) ? data.hubs : []);
    this._linksError =
      typeof data?.links_error === 'string' && data.links_error
        ? data.links_error
        : null;
  }

  /**
   * Take a new list: forget the ticks of hubs gone (and of linked hubs not linked), tick the own
   * hub when it is new, and a linked hub when its account has just been linked.
   */
  private _setHubs(hubs: IHub[]): void {
    const before = new Map(this._hubs.map(h => [h.name, h]));
    const names = new Set(hubs.map(h => h.name));
    for (const name of [...this._selected]) {
      if (!names.has(name)) {
        this._selected.delete(name);
      }
    }
    for (const hub of hubs) {
      const old = before.get(hub.name);
      if (!canAsk(hub)) {
        this._selected.delete(hub.name);
      } else if (hub.own && !old) {
        this._selected.add(hub.name);
      } else if (linkState(hub) === 'linked' && this._linking.has(hub.name)) {
        this._linking.delete(hub.name);
        if (old && linkState(old) !== 'linked') {
          this._selected.add(hub.name); // just linked: the person wants to ask it
          const user = hub.link?.user;
          this._linkNotice = `${hub.name}: linked${user ? ` as ${user}` : ''}.`;
        }
      }
    }
    this._hubs = hubs;
  }

  private readonly _request: RequestFunction;
  private readonly _errors: ErrorState;
  private _hubs: IHub[] = [];
  private _selected = new Set<string>();
  private _loading = false;
  private _addProblems: Record<string, string> = {};
  private _connected: string | null = null;
  private _unreachable = false;
  private _addError: string | null = null;
  private _refreshing = false;
  /** The hubs whose link page was opened: ticked once their account is linked. */
  private _linking = new Set<string>();
  private _watchTimer: ReturnType<typeof setTimeout> | null = null;
  private _linkWindow: ILinkWindow | null = null;
  private _linksError: string | null = null;
  private _linkNotice: string | null = null;
}
