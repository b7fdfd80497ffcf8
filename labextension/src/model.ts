/**
 * The "Run elsewhere" panel's state: hubs, the request form, the hubs' answers, the accepted
 * session (polled until it is ready or over) and the "My sessions" list. The React view renders
 * it and calls its methods; every change emits `changed`. It talks to the server only through the
 * request function it is given (src/request.ts in JupyterLab, a fake in the tests).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { buildAskBody, DEFAULTS, formFromDefaults, IDefaults, IForm, INewHub, validateNewHub } from './form';
import { allOffers, answerRows, IAnswerRow, SortKey, sortOffers } from './offers';
import {
  APIError,
  IAnswer,
  IAskBody,
  IAskResponse,
  IHub,
  IOffer,
  IPrepareBody,
  IPrepareResponse,
  IRequestAskBody,
  ISession,
  ISessionsResponse,
  RequestFunction
} from './types';

export * from './form';

/** Phases after which nothing changes any more. */
export const TERMINAL_PHASES = ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED'];

/** Poll every second while a session gets ready, slower once it is up, never after the end. */
export const POLL_FAST_MS = 1000;
export const POLL_SLOW_MS = 10000;

/** Milliseconds until the next poll of this session, or null to stop polling. */
export function nextPollDelay(session: ISession): number | null {
  if (session.terminal || TERMINAL_PHASES.includes(session.phase)) {
    return null;
  }
  return session.phase === 'AVAILABLE' || session.phase === 'RUNNING' ? POLL_SLOW_MS : POLL_FAST_MS;
}

function message(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/** A hub's row when its `ask` call itself failed (the server unreachable, a 4xx, a bad answer). */
function failedAnswer(hub: string, started: number, text: string): IAnswer {
  return { hub, status: 'error', seconds: (Date.now() - started) / 1000, offerset: null, messages: [text], offers: [] };
}

function sessionPath(hub: string, uuid: string): string {
  return `sessions/${encodeURIComponent(hub)}/${encodeURIComponent(uuid)}`;
}

export type Tab = 'ask' | 'sessions';

export class ExecPlannerModel {
  constructor(request: RequestFunction, defaults: IDefaults = DEFAULTS) {
    this._request = request;
    this._defaults = { ...defaults };
    this._form = formFromDefaults(this._defaults);
  }

  /** Emitted after every change of state. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    this._stopPolling();
    Signal.clearData(this);
  }

  // -- notebook, tab, error --------------------------------------------------------------------

  get path(): string {
    return this._path;
  }

  /** Choose the notebook to run; a new notebook clears the answers (the session view stays). */
  set path(value: string) {
    if (value === this._path) {
      return;
    }
    this._path = value;
    this._endAsk();
    this._answers = [];
    this._emit();
  }

  get tab(): Tab {
    return this._tab;
  }

  set tab(value: Tab) {
    if (value === this._tab) {
      return;
    }
    this._tab = value;
    this._emit();
    if (value === 'sessions') {
      void this.loadSessions();
    }
  }

  /** The last failure, for the panel's error line; null when none. */
  get error(): string | null {
    return this._error;
  }

  clearError(): void {
    this._setError(null);
  }

  // -- hubs ------------------------------------------------------------------------------------

  get hubs(): readonly IHub[] {
    return this._hubs;
  }

  get loadingHubs(): boolean {
    return this._loadingHubs;
  }

  isSelected(name: string): boolean {
    return this._selected.has(name);
  }

  /** The ticked hubs, in the list's order. */
  get selectedHubs(): string[] {
    return this._hubs.filter(h => this._selected.has(h.name)).map(h => h.name);
  }

  setSelected(name: string, selected: boolean): void {
    if (selected) {
      this._selected.add(name);
    } else {
      this._selected.delete(name);
    }
    this._emit();
  }

  /** Load the hub list; the own hub is ticked the first time it is seen. */
  async loadHubs(): Promise<void> {
    this._loadingHubs = true;
    this._emit();
    try {
      const data = await this._request<{ hubs: IHub[] }>('hubs');
      this._setHubs(data?.hubs ?? []);
      this._setError(null);
    } catch (error) {
      this._setError(message(error));
    } finally {
      this._loadingHubs = false;
      this._emit();
    }
  }

  /** Add (or replace) a hub; answers true when the server stored it, else sets `error`. */
  async addHub(hub: INewHub): Promise<boolean> {
    let checked: INewHub;
    try {
      checked = validateNewHub(hub, this._hubs);
    } catch (error) {
      this._setError(message(error));
      return false;
    }
    try {
      await this._request<IHub>('hubs', { method: 'POST', body: JSON.stringify(checked) });
      this._setError(null);
    } catch (error) {
      this._setError(`Could not add hub "${checked.name}": ${message(error)}`);
      return false;
    }
    await this.loadHubs();
    return true;
  }

  async removeHub(name: string): Promise<void> {
    try {
      await this._request<void>(`hubs/${encodeURIComponent(name)}`, { method: 'DELETE' });
      this._selected.delete(name);
      this._setError(null);
    } catch (error) {
      this._setError(`Could not remove hub "${name}": ${message(error)}`);
      return;
    }
    await this.loadHubs();
  }

  // -- the request form ------------------------------------------------------------------------

  get form(): Readonly<IForm> {
    return this._form;
  }

  setField(field: keyof IForm, value: string): void {
    this._form = { ...this._form, [field]: value };
    this._emit();
  }

  /** New defaults (the settings changed): fields still at the old default take the new one. */
  setDefaults(defaults: IDefaults): void {
    const before = formFromDefaults(this._defaults);
    const after = formFromDefaults(defaults);
    const form = { ...this._form };
    for (const key of Object.keys(after) as (keyof IForm)[]) {
      if (form[key] === before[key]) {
        form[key] = after[key];
      }
    }
    this._defaults = { ...defaults };
    this._form = form;
    this._emit();
  }

  // -- asking and the answers ------------------------------------------------------------------

  /** From Ask until the last ticked hub has answered (or the user moved on: another notebook, an
   * accepted offer). */
  get asking(): boolean {
    return this._asking;
  }

  /** The hubs of the current (or last) ask, in the order asked. */
  get asked(): readonly string[] {
    return this._asked;
  }

  /** When the current ask started (`Date.now()`), for the waiting rows' clock; null when none. */
  get askStarted(): number | null {
    return this._askStarted;
  }

  /** The answers in so far, in the order the hubs were asked. */
  get answers(): readonly IAnswer[] {
    const order = new Map(this._asked.map((hub, i) => [hub, i]));
    const rank = (a: IAnswer): number => order.get(a.hub) ?? order.size;
    return [...this._answers].sort((a, b) => rank(a) - rank(b));
  }

  /** One row per hub asked: its answer, or `asking` while it has not answered. */
  get answerRows(): IAnswerRow[] {
    return answerRows(this.answers, this._asked);
  }

  get sortKey(): SortKey {
    return this._sortKey;
  }

  set sortKey(value: SortKey) {
    this._sortKey = value;
    this._emit();
  }

  /** Every offer of every hub that answered, in the chosen order. */
  get offers(): IOffer[] {
    return sortOffers(allOffers(this._answers), this._sortKey);
  }

  /**
   * Ask the ticked hubs for offers: `prepare` once (the notebook's snapshot and the request), then
   * one `ask` per hub, all at once; each answer is shown as soon as it arrives, so a hub that hangs
   * holds back only its own row. Answers true when every hub has answered; false (with `error`
   * set) when nothing could be asked, or when the user moved on before the last answer.
   */
  async ask(): Promise<boolean> {
    if (this._asking) {
      return false;
    }
    let body: IAskBody;
    try {
      body = buildAskBody(this._form, this.selectedHubs, this._path);
    } catch (error) {
      this._setError(message(error));
      return false;
    }
    const round = ++this._round;
    const { hubs, ...needs } = body;
    const prepareBody: IPrepareBody = needs;
    this._asking = true;
    this._asked = [...hubs];
    this._askStarted = Date.now();
    this._answers = [];
    this._setSession(null);
    this._setError(null);
    let request: Record<string, unknown>;
    try {
      const prepared = await this._request<IPrepareResponse>('prepare', {
        method: 'POST',
        body: JSON.stringify(prepareBody)
      });
      if (!prepared || typeof prepared.request !== 'object' || prepared.request === null) {
        throw new Error('the server did not answer the request it made');
      }
      request = prepared.request;
    } catch (error) {
      if (round === this._round) {
        this._endAsk();
        this._setError(`Asking failed: ${message(error)}`);
      }
      return false;
    }
    if (round !== this._round) {
      return false;
    }
    await Promise.all(hubs.map(hub => this._askHub(round, hub, request, body.timeout)));
    if (round !== this._round) {
      return false;
    }
    this._asking = false;
    this._askStarted = null;
    this._emit();
    return true;
  }

  // -- the current session ---------------------------------------------------------------------

  get session(): ISession | null {
    return this._session;
  }

  /** Whether the current session is being polled. */
  get polling(): boolean {
    return this._timer !== null;
  }

  /** Accept an offer; on success the panel follows the new session. */
  async accept(offer: IOffer): Promise<boolean> {
    return this._act(offer.hub, offer.uuid, 'accept', `Could not accept the offer of ${offer.hub}`);
  }

  /** Cancel a session (the current one by default). */
  async cancel(session: ISession | null = this._session): Promise<boolean> {
    if (!session) {
      return false;
    }
    const ok = await this._act(session.hub, session.uuid, 'cancel', `Could not cancel the session on ${session.hub}`);
    if (ok && this._sessions.some(s => s.hub === session.hub && s.uuid === session.uuid)) {
      void this.loadSessions();
    }
    return ok;
  }

  /** Follow a session (from "My sessions"): show its progress and poll it. */
  follow(session: ISession): void {
    this._setSession(session);
    this._tab = 'ask';
    this._emit();
  }

  /** Leave the progress view (stops polling; the session itself goes on). */
  closeSession(): void {
    this._setSession(null);
    this._emit();
  }

  /** Fetch the current session once more (the poll does this on its own). */
  async refreshSession(): Promise<void> {
    const current = this._session;
    if (!current) {
      return;
    }
    this._stopPolling();
    let delay: number | null = POLL_SLOW_MS;
    try {
      const fresh = await this._request<ISession>(sessionPath(current.hub, current.uuid));
      if (this._session !== current || this._disposed) {
        return; // the user moved on meanwhile
      }
      this._session = fresh;
      this._pollError = null;
      delay = nextPollDelay(fresh);
    } catch (error) {
      if (this._session !== current || this._disposed) {
        return;
      }
      this._pollError = message(error);
      if (error instanceof APIError && error.status === 404) {
        delay = null;
      }
    }
    this._emit();
    if (delay !== null) {
      this._schedule(delay);
    }
  }

  /** The last failure of polling the current session (the view shows it with the progress). */
  get pollError(): string | null {
    return this._pollError;
  }

  // -- my sessions -----------------------------------------------------------------------------

  get sessions(): readonly ISession[] {
    return this._sessions;
  }

  get sessionErrors(): readonly { hub: string; message: string }[] {
    return this._sessionErrors;
  }

  get loadingSessions(): boolean {
    return this._loadingSessions;
  }

  async loadSessions(): Promise<void> {
    this._loadingSessions = true;
    this._emit();
    try {
      const data = await this._request<ISessionsResponse>('sessions');
      this._sessions = data?.sessions ?? [];
      this._sessionErrors = data?.errors ?? [];
      this._setError(null);
    } catch (error) {
      this._setError(`Could not list your sessions: ${message(error)}`);
    } finally {
      this._loadingSessions = false;
      this._emit();
    }
  }

  // -- private ---------------------------------------------------------------------------------

  private async _act(hub: string, uuid: string, action: string, failure: string): Promise<boolean> {
    try {
      const session = await this._request<ISession>(sessionPath(hub, uuid), {
        method: 'POST',
        body: JSON.stringify({ action })
      });
      this._setError(null);
      this._sessions = this._sessions.map(s => (s.hub === hub && s.uuid === uuid ? session : s));
      if (action === 'accept') {
        this._endAsk(); // late answers of that ask are not wanted any more
        this._answers = []; // the broker has turned down the other offers of that offerset
      }
      if (action === 'accept' || (this._session && this._session.hub === hub && this._session.uuid === uuid)) {
        this._setSession(session);
      }
      this._emit();
      return true;
    } catch (error) {
      this._setError(`${failure}: ${message(error)}`);
      return false;
    }
  }

  /** Ask one hub with the prepared request; its answer (or the failure, as an `error` answer) joins
   * the others unless a newer ask (or the user moving on) has started meanwhile. */
  private async _askHub(round: number, hub: string, request: Record<string, unknown>, timeout: number): Promise<void> {
    const started = Date.now();
    const body: IRequestAskBody = { hubs: [hub], request, timeout };
    let answer: IAnswer;
    try {
      const data = await this._request<IAskResponse>('ask', { method: 'POST', body: JSON.stringify(body) });
      const found = (data?.answers ?? []).find(a => a.hub === hub);
      answer = found ?? failedAnswer(hub, started, 'the server sent no answer for this hub');
    } catch (error) {
      answer = failedAnswer(hub, started, message(error));
    }
    if (round !== this._round || this._disposed) {
      return; // an answer to an ask the user has left
    }
    this._answers = [...this._answers.filter(a => a.hub !== hub), answer];
    this._emit();
  }

  /** Forget the current ask: answers still on their way are dropped when they come. */
  private _endAsk(): void {
    if (this._asking) {
      this._round += 1;
    }
    this._asking = false;
    this._asked = [];
    this._askStarted = null;
  }

  private _setHubs(hubs: IHub[]): void {
    const known = new Set(this._hubs.map(h => h.name));
    const names = new Set(hubs.map(h => h.name));
    for (const name of [...this._selected]) {
      if (!names.has(name)) {
        this._selected.delete(name);
      }
    }
    for (const hub of hubs) {
      if (hub.own && !known.has(hub.name)) {
        this._selected.add(hub.name);
      }
    }
    this._hubs = hubs;
  }

  /** Show a session (null: none) and poll it while it is not over. */
  private _setSession(session: ISession | null): void {
    this._stopPolling();
    this._session = session;
    this._pollError = null;
    if (session) {
      const delay = nextPollDelay(session);
      if (delay !== null) {
        this._schedule(delay);
      }
    }
  }

  private _schedule(delay: number): void {
    this._stopPolling();
    if (this._disposed) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.refreshSession();
    }, delay);
  }

  private _stopPolling(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _setError(error: string | null): void {
    this._error = error;
    this._emit();
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private readonly _request: RequestFunction;
  private readonly _changed = new Signal<this, void>(this);
  private _disposed = false;
  private _defaults: IDefaults;
  private _path = '';
  private _tab: Tab = 'ask';
  private _error: string | null = null;
  private _hubs: IHub[] = [];
  private _selected = new Set<string>();
  private _loadingHubs = false;
  private _form: IForm;
  private _asking = false;
  /** Counts asks; an answer of an older one is dropped. */
  private _round = 0;
  private _asked: string[] = [];
  private _askStarted: number | null = null;
  private _answers: IAnswer[] = [];
  private _sortKey: SortKey = 'start';
  private _session: ISession | null = null;
  private _pollError: string | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _sessions: ISession[] = [];
  private _sessionErrors: { hub: string; message: string }[] = [];
  private _loadingSessions = false;
}
