/**
 * The followed session's progress: its phase, a progress bar while it gets ready (an ended
 * session has its own look instead: FAILED in the error colour with the reason, CANCELLED and the
 * other ends plain), "stopping" while its server is being stopped, its messages, **Open** once it
 * is available, **Cancel** (asks first) and **New request**.
 */
import * as React from 'react';

import { readableMessages } from '../messages';
import { isOver, phaseText, TERMINAL_PHASES } from '../model/session';
import { ISession } from '../types';

/** What an ended session's look says, by phase. */
const ENDED_TEXT: Record<string, string> = {
  FAILED: 'The session failed.',
  CANCELLED: 'The session was cancelled.',
  COMPLETED: 'The session is over.',
  REJECTED: 'The offer was turned down.',
  EXPIRED: 'The offer expired before it was accepted.'
};

/** The reason a session failed: its last message (what the hub said last). */
export function failureReason(session: ISession): string | null {
  if (session.phase !== 'FAILED') {
    return null;
  }
  const messages = readableMessages(session.messages);
  return messages.length ? messages[messages.length - 1] : null;
}

/** The session's state: a bar while it gets ready, its own look once it ended. */
export function PhaseState({ session }: { session: ISession }): JSX.Element {
  const ended = session.terminal || TERMINAL_PHASES.includes(session.phase);
  if (!ended) {
    return (
      <progress
        max={100}
        value={session.progress}
        aria-label={`${session.phase}: ${session.progress}%`}
      />
    );
  }
  const reason = failureReason(session);
  return (
    <div
      className={`jp-execplanner-ended jp-execplanner-ended-${session.phase.toLowerCase()}`}
      data-testid="ep-ended"
      role="status"
    >
      {ENDED_TEXT[session.phase] ?? `The session is ${session.phase}.`}
      {reason && <> {reason}</>}
      {session.stopping && (
        <span className="jp-execplanner-muted">
          {' '}
          Its server is being stopped…
        </span>
      )}
    </div>
  );
}

export function Progress({
  session,
  pollError,
  onCancel,
  onClose
}: {
  session: ISession;
  /** The last failure of polling the session; null when none. */
  pollError: string | null;
  onCancel: () => void;
  onClose: () => void;
}): JSX.Element {
  return (
    <section
      className="jp-execplanner-progress"
      data-testid="ep-progress"
      data-phase={session.phase}
      data-stopping={session.stopping ? 'true' : 'false'}
    >
      <h3>
        {session.profile || 'Session'} on {session.hub}:{' '}
        <span
          data-testid="ep-phase"
          className={`jp-execplanner-phase jp-execplanner-phase-${phaseText(session).toLowerCase()}`}
        >
          {phaseText(session)}
        </span>
      </h3>
      <PhaseState session={session} />
      <ul data-testid="ep-messages" aria-live="polite">
        {readableMessages(session.messages).map((m, i) => (
          <li key={i}>{m}</li>
        ))}
      </ul>
      {pollError && (
        <p className="jp-execplanner-error">Could not update: {pollError}</p>
      )}
      <div className="jp-execplanner-actions">
        {session.open_url && (
          <a
            className="jp-mod-styled"
            data-testid="ep-open"
            href={session.open_url}
            target="_blank"
            rel="noopener noreferrer"
          >
            Open
          </a>
        )}
        <button
          className="jp-mod-styled jp-mod-warn"
          data-testid="ep-cancel"
          disabled={session.terminal || isOver(session)}
          onClick={onCancel}
        >
          Cancel
        </button>
        <button
          className="jp-mod-styled"
          data-testid="ep-new"
          onClick={onClose}
        >
          New request
        </button>
      </div>
    </section>
  );
}
