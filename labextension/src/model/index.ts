/**
 * The "Run elsewhere" panel's state, composed of one part per concern, each with its own
 * `changed` signal: the error line (`errors`), the hubs (`hubs`), the request form (`form`), the
 * hubs' answers (`answers`), the offers table (`offers`), the followed session (`progress`) and
 * "My sessions" (`sessions`). This model holds what spans them (the notebook, the tab, asking,
 * accepting and cancelling) and emits `changed` after a change of any part. It talks to the
 * server only through the request function it is given (src/request.ts in JupyterLab, a fake in
 * the tests).
 */
import { buildAskBody, DEFAULTS, IDefaults } from '../form';
import { IAskBody, IOffer, ISession, RequestFunction } from '../types';
import { AnswersModel } from './answers';
import { ErrorState } from './errors';
import { FormModel } from './form';
import { HubsModel } from './hubs';
import { sessionAction, SessionAction, SessionModel } from './session';
import { SessionsModel } from './sessions';
import { errorText, State } from './state';
import { OfferTableModel } from './table';

export type Tab = 'ask' | 'sessions';

export class ExecPlannerModel extends State {
  constructor(request: RequestFunction, defaults: IDefaults = DEFAULTS) {
    super();
    this._request = request;
    this.errors = new ErrorState();
    this.hubs = new HubsModel(request, this.errors);
    this.form = new FormModel(defaults);
    this.answers = new AnswersModel(request, this.errors);
    this.offers = new OfferTableModel(this.answers);
    this.progress = new SessionModel(request);
    this.sessions = new SessionsModel(request, this.errors);
    for (const part of this._parts()) {
      part.changed.connect(this._forward, this);
    }
  }

  /** The panel's error line. */
  readonly errors: ErrorState;
  /** The hubs to ask. */
  readonly hubs: HubsModel;
  /** The request form. */
  readonly form: FormModel;
  /** The current (or last) ask and the hubs' answers. */
  readonly answers: AnswersModel;
  /** The offers table. */
  readonly offers: OfferTableModel;
  /** The session followed (the progress view). */
  readonly progress: SessionModel;
  /** "My sessions". */
  readonly sessions: SessionsModel;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    for (const part of this._parts()) {
      part.dispose();
    }
    super.dispose();
  }

  /** The notebook to run. */
  get path(): string {
    return this._path;
  }

  /** Choose the notebook to run; a new notebook clears the answers (the session view stays). */
  set path(value: string) {
    if (value === this._path) {
      return;
    }
    this._path = value;
    this.answers.reset();
    this.emit();
  }

  get tab(): Tab {
    return this._tab;
  }

  /** Show a tab; "My sessions" is fetched again each time it is shown. */
  set tab(value: Tab) {
    if (value === this._tab) {
      return;
    }
    this._tab = value;
    this.emit();
    if (value === 'sessions') {
      void this.sessions.load();
    }
  }

  /**
   * Ask the ticked hubs for offers (see `AnswersModel.ask`), leaving the progress view. Answers
   * true when every hub has answered; false (with the error set) when the form has a bad value or
   * nothing could be asked, or when the user moved on before the last answer.
   */
  async ask(): Promise<boolean> {
    if (this.answers.asking) {
      return false;
    }
    let body: IAskBody;
    try {
      body = buildAskBody(this.form.values, this.hubs.selected, this._path);
    } catch (error) {
      this.errors.set(errorText(error));
      return false;
    }
    this.progress.show(null);
    return this.answers.ask(body);
  }

  /** Accept an offer; on success the panel follows the new session. */
  async accept(offer: IOffer): Promise<boolean> {
    return this._act(
      offer.hub,
      offer.uuid,
      'accept',
      `Could not accept the offer of ${offer.hub}`
    );
  }

  /** Cancel a session (the one followed by default). */
  async cancel(
    session: ISession | null = this.progress.session
  ): Promise<boolean> {
    if (!session) {
      return false;
    }
    const { hub, uuid } = session;
    const ok = await this._act(
      hub,
      uuid,
      'cancel',
      `Could not cancel the session on ${hub}`
    );
    if (ok && this.sessions.has(hub, uuid)) {
      void this.sessions.load();
    }
    return ok;
  }

  /** Follow a session (from "My sessions"): show its progress on the Ask tab and poll it. */
  follow(session: ISession): void {
    this.progress.show(session);
    this._tab = 'ask';
    this.emit();
  }

  /** Leave the progress view (stops polling; the session itself goes on). */
  closeSession(): void {
    this.progress.show(null);
  }

  /** Change a session on its hub and show the result where the panel shows that session. */
  private async _act(
    hub: string,
    uuid: string,
    action: SessionAction,
    failure: string
  ): Promise<boolean> {
    let session: ISession;
    try {
      session = await sessionAction(this._request, hub, uuid, action);
    } catch (error) {
      this.errors.set(`${failure}: ${errorText(error)}`);
      return false;
    }
    this.errors.set(null);
    this.sessions.update(hub, uuid, session);
    if (action === 'accept') {
      // late answers of that ask are not wanted any more, and the broker has turned down the
      // other offers of that offerset
      this.answers.reset();
    }
    if (action === 'accept' || this.progress.isShown(hub, uuid)) {
      this.progress.show(session);
    }
    return true;
  }

  private _parts(): State[] {
    return [
      this.errors,
      this.hubs,
      this.form,
      this.answers,
      this.offers,
      this.progress,
      this.sessions
    ];
  }

  private _forward(): void {
    this.emit();
  }

  private readonly _request: RequestFunction;
  private _path = '';
  private _tab: Tab = 'ask';
}
