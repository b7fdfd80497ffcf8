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
import {
  APIError,
  IAskBody,
  IOffer,
  ISession,
  RequestFunction,
  ValidationError
} from '../types';
import { AnswersModel } from './answers';
import { ErrorState } from './errors';
import { FilesModel } from './files';
import { FormModel } from './form';
import { HubsModel } from './hubs';
import { sessionAction, SessionAction, SessionModel } from './session';
import { SessionsModel } from './sessions';
import { errorText, State } from './state';
import { OfferTableModel } from './table';

export type Tab = 'ask' | 'sessions';

/** Asks the person before a session is ended (a JupyterLab dialog in the panel); true: go on. */
export type CancelConfirm = (session: ISession) => Promise<boolean>;

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
    this.files = new FilesModel(request);
    const onLink = this.hubs.markLink.bind(this.hubs);
    this.answers.onLink = onLink;
    this.sessions.onLink = onLink;
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
  /** What an Ask will send. */
  readonly files: FilesModel;

  /** Asked before a session is cancelled (the plugin sets a dialog; by default: yes). */
  confirmCancel: CancelConfirm = async () => true;

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
    void this._release(this.answers.offers);
    this.answers.reset();
    void this.files.load(value);
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
   * Ask the ticked hubs for offers (see `AnswersModel.ask`), leaving the progress view. The offers
   * of the previous ask not accepted are released first (rejected on their hubs), so that they
   * hold nothing that would push the new offers later. Answers true when every hub has answered;
   * false (with the problems set next to their fields, and the old answers gone) when the form has
   * a bad value or nothing could be asked, or when the user moved on before the last answer.
   */
  async ask(): Promise<boolean> {
    if (this.answers.asking || this._releasing) {
      return false;
    }
    let body: IAskBody;
    try {
      body = buildAskBody(
        this.form.values,
        this.hubs.selected,
        this._path,
        this.form.keepOutputs
      );
    } catch (error) {
      this.form.setProblems(
        error instanceof ValidationError ? error.fields : {}
      );
      void this._release(this.answers.offers);
      this.answers.reset();
      this.errors.set(errorText(error));
      return false;
    }
    this.form.setProblems({});
    this.progress.show(null);
    const previous = this.answers.offers;
    if (previous.length > 0) {
      this._releasing = true;
      this.answers.reset();
      try {
        await this._release(previous);
      } finally {
        this._releasing = false;
        this.emit();
      }
    }
    const done = await this.answers.ask(body);
    if (!done && this.errors.message) {
      this.answers.reset(); // an error: no answers of it (nor live Accept buttons) stay
    }
    void this.files.load(this._path);
    return done;
  }

  /** Whether the offers of the previous ask are being released (Ask waits for it). */
  get releasing(): boolean {
    return this._releasing;
  }

  /**
   * Accept an offer; on success the panel follows the new session, and the other offers of that
   * ask are released on every hub (the accepted hub turns down its own others itself).
   */
  async accept(offer: IOffer): Promise<boolean> {
    const others = this.answers.offers.filter(
      o => o.hub !== offer.hub && o.uuid !== offer.uuid
    );
    const ok = await this._act(
      offer.hub,
      offer.uuid,
      'accept',
      `Could not accept the offer of ${offer.hub}`
    );
    if (ok) {
      void this._release(others);
    }
    return ok;
  }

  /** Forget a hub (its offers released first, while its token is still there). */
  async removeHub(name: string): Promise<void> {
    await this._release(this.answers.offers.filter(o => o.hub === name));
    this.answers.dropHub(name);
    await this.hubs.remove(name);
  }

  /**
   * Cancel a session (the one followed by default), once the person confirms it (unsaved work on
   * that server is lost). Answers true when the hub cancelled it.
   */
  async cancel(
    session: ISession | null = this.progress.session
  ): Promise<boolean> {
    if (!session || !(await this.confirmCancel(session))) {
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

  /** Follow a session of "My sessions" in the progress view (on the Ask tab). */
  follow(session: ISession): void {
    this.progress.show(session);
    this.tab = 'ask';
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
      if (error instanceof APIError && error.link) {
        this.hubs.markLink(hub, error.link); // "Link again" beside the hub, not an error
        return false;
      }
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

  /**
   * Turn down offers no longer wanted, on their hubs, all at once; a hub that fails to (already
   * expired, gone, down) is not an error of the panel: the offer expires there by itself.
   */
  private async _release(offers: readonly IOffer[]): Promise<void> {
    await Promise.allSettled(
      offers.map(o => sessionAction(this._request, o.hub, o.uuid, 'reject'))
    );
  }

  private _parts(): State[] {
    return [
      this.files,
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
  private _releasing = false;
}
