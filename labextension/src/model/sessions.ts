/**
 * "My sessions": the user's sessions on every hub with a token, and the hubs that could not be
 * reached.
 */
import {
  ISession,
  ISessionsResponse,
  LinkState,
  RequestFunction
} from '../types';
import { ErrorState } from './errors';
import { linkOf } from './links';
import { errorText, State } from './state';

/** A hub whose sessions could not be listed. */
export interface ISessionError {
  hub: string;
  message: string;
}

export class SessionsModel extends State {
  constructor(request: RequestFunction, errors: ErrorState) {
    super();
    this._request = request;
    this._errors = errors;
  }

  /** Told when a hub's account must be linked (again): not an error of the list, the hub list
   * shows it beside the hub (set by the panel's model). */
  onLink: (hub: string, state: LinkState) => void = () => undefined;

  get list(): readonly ISession[] {
    return this._sessions;
  }

  /** The hubs that could not be reached, with the reason. */
  get hubErrors(): readonly ISessionError[] {
    return this._hubErrors;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** Whether the list holds this session. */
  has(hub: string, uuid: string): boolean {
    return this._sessions.some(s => s.hub === hub && s.uuid === uuid);
  }

  /** Fetch the list again. */
  async load(): Promise<void> {
    this._loading = true;
    this.emit();
    try {
      const data = await this._request<ISessionsResponse>('sessions');
      this._sessions = data?.sessions ?? [];
      const errors = data?.errors ?? [];
      this._hubErrors = errors.filter(e => !linkOf(e));
      this._errors.set(null);
      for (const e of errors) {
        const link = linkOf(e);
        if (link) {
          this.onLink(e.hub, link);
        }
      }
    } catch (error) {
      this._errors.set(`Could not list your sessions: ${errorText(error)}`);
    } finally {
      this._loading = false;
      this.emit();
    }
  }

  /** Put a session's new state in its place in the list (when the list has it). */
  update(hub: string, uuid: string, session: ISession): void {
    if (!this.has(hub, uuid)) {
      return;
    }
    this._sessions = this._sessions.map(s =>
      s.hub === hub && s.uuid === uuid ? session : s
    );
    this.emit();
  }

  private readonly _request: RequestFunction;
  private readonly _errors: ErrorState;
  private _sessions: ISession[] = [];
  private _hubErrors: ISessionError[] = [];
  private _loading = false;
}
