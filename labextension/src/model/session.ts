/**
 * The session the panel follows (the accepted offer, or one chosen in "My sessions"): shown with
 * its progress and polled every second while it gets ready, every 10 s once it is up, never after
 * it is over.
 */
import { APIError, ISession, RequestFunction } from '../types';
import { errorText, State } from './state';

/** Phases after which nothing changes any more. */
export const TERMINAL_PHASES = [
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'REJECTED',
  'EXPIRED'
];

/** Poll every second while a session gets ready, slower once it is up, never after the end. */
export const POLL_FAST_MS = 1000;
export const POLL_SLOW_MS = 10000;

/** While an ended session's server is being stopped: poll until it is gone. */
export const POLL_STOPPING_MS = 2000;

/** Whether the session is over and its server gone (nothing will change any more). */
export function isOver(session: ISession): boolean {
  return (
    (session.terminal || TERMINAL_PHASES.includes(session.phase)) &&
    !session.stopping
  );
}

/**
 * What the panel calls the session's state: its phase, or "stopping" while an ended session's
 * server is still being stopped.
 */
export function phaseText(session: ISession): string {
  return session.stopping ? 'stopping' : session.phase;
}

/** Milliseconds until the next poll of this session, or null to stop polling. */
export function nextPollDelay(session: ISession): number | null {
  if (session.stopping) {
    return POLL_STOPPING_MS;
  }
  if (session.terminal || TERMINAL_PHASES.includes(session.phase)) {
    return null;
  }
  return session.phase === 'AVAILABLE' || session.phase === 'RUNNING'
    ? POLL_SLOW_MS
    : POLL_FAST_MS;
}

/** The labserver route of one session. */
export function sessionPath(hub: string, uuid: string): string {
  return `sessions/${encodeURIComponent(hub)}/${encodeURIComponent(uuid)}`;
}

export type SessionAction = 'accept' | 'reject' | 'cancel';

/** Accept, reject or cancel a session on its hub; answers the session as it is now. */
export async function sessionAction(
  request: RequestFunction,
  hub: string,
  uuid: string,
  action: SessionAction
): Promise<ISession> {
  return request<ISession>(sessionPath(hub, uuid), {
    method: 'POST',
    body: JSON.stringify({ action })
  });
}

export class SessionModel extends State {
  constructor(request: RequestFunction) {
    super();
    this._request = request;
  }

  /** The session shown; null when none. */
  get session(): ISession | null {
    return this._session;
  }

  /** Whether this is the session shown. */
  isShown(hub: string, uuid: string): boolean {
    return (
      this._session !== null &&
      this._session.hub === hub &&
      this._session.uuid === uuid
    );
  }

  /** Whether the session is being polled. */
  get polling(): boolean {
    return this._timer !== null;
  }

  /** The last failure of polling the session (the view shows it with the progress). */
  get pollError(): string | null {
    return this._pollError;
  }

  /** Show a session (null: none; the session itself goes on) and poll it while it is not over. */
  show(session: ISession | null): void {
    this._stopPolling();
    this._session = session;
    this._pollError = null;
    if (session) {
      const delay = nextPollDelay(session);
      if (delay !== null) {
        this._schedule(delay);
      }
    }
    this.emit();
  }

  /** Fetch the session once more (the poll does this on its own). */
  async refresh(): Promise<void> {
    const current = this._session;
    if (!current) {
      return;
    }
    this._stopPolling();
    let delay: number | null = POLL_SLOW_MS;
    try {
      const fresh = await this._request<ISession>(
        sessionPath(current.hub, current.uuid)
      );
      if (this._session !== current || this.isDisposed) {
        return; // the user moved on meanwhile
      }
      this._session = fresh;
      this._pollError = null;
      delay = nextPollDelay(fresh);
    } catch (error) {
      if (this._session !== current || this.isDisposed) {
        return;
      }
      this._pollError = errorText(error);
      if (error instanceof APIError && error.status === 404) {
        delay = null; // the session is gone
      }
    }
    this.emit();
    if (delay !== null) {
      this._schedule(delay);
    }
  }

  dispose(): void {
    this._stopPolling();
    super.dispose();
  }

  private _schedule(delay: number): void {
    this._stopPolling();
    if (this.isDisposed) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.refresh();
    }, delay);
  }

  private _stopPolling(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private readonly _request: RequestFunction;
  private _session: ISession | null = null;
  private _pollError: string | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
