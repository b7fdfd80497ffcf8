/**
 * The followed session's progress: its phase, a progress bar, its messages, **Open** once it is
 * available, **Cancel** and **New request**.
 */
import * as React from 'react';

import { ISession } from '../types';

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
    >
      <h3>
        {session.profile || 'Session'} on {session.hub}:{' '}
        <span data-testid="ep-phase">{session.phase}</span>
      </h3>
      <progress max={100} value={session.progress} />
      <ul data-testid="ep-messages">
        {session.messages.map((m, i) => (
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
          disabled={session.terminal}
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
