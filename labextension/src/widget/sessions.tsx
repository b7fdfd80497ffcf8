/**
 * The "My sessions" tab: the user's sessions on every hub, with **Open**, **Progress** and
 * **Cancel** (asks first); an ended session shows its end (a failed one, why), a session whose
 * server is still being stopped says "stopping"; a hub that could not be reached is listed with
 * its error above the table.
 */
import * as React from 'react';

import { ExecPlannerModel } from '../model';
import { formatDuration } from '../format';
import { hubFailureText } from '../messages';
import { phaseText, TERMINAL_PHASES } from '../model/session';
import { ErrorLine } from './error';
import { localTime } from './hooks';
import { failureReason } from './progress';

export function SessionsTab({
  model
}: {
  model: ExecPlannerModel;
}): JSX.Element {
  const sessions = model.sessions;
  return (
    <div className="jp-execplanner-tab">
      <button
        className="jp-mod-styled"
        data-testid="ep-refresh"
        disabled={sessions.loading}
        onClick={() => void sessions.load()}
      >
        {sessions.loading ? 'Refreshing…' : 'Refresh'}
      </button>
      <ErrorLine errors={model.errors} />
      {sessions.hubErrors.map(e => (
        <div
          key={e.hub}
          className="jp-execplanner-error"
          data-testid="ep-session-error"
          data-hub={e.hub}
        >
          {e.hub}: {hubFailureText(e.message)}
        </div>
      ))}
      {sessions.list.length === 0 ? (
        <p className="jp-execplanner-muted">
          {sessions.loading ? 'Loading…' : 'No sessions.'}
        </p>
      ) : (
        <table className="jp-execplanner-sessions">
          <thead>
            <tr>
              <th>Hub</th>
              <th>Profile</th>
              <th>Phase</th>
              <th>Cores</th>
              <th>Memory</th>
              <th>Start</th>
              <th>Duration</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sessions.list.map(s => {
              const ended = s.terminal || TERMINAL_PHASES.includes(s.phase);
              const reason = failureReason(s);
              return (
                <tr
                  key={`${s.hub}/${s.uuid}`}
                  data-testid="ep-session"
                  data-hub={s.hub}
                  data-uuid={s.uuid}
                  data-phase={s.phase}
                >
                  <td>{s.hub}</td>
                  <td>{s.profile}</td>
                  <td>
                    <span
                      className={`jp-execplanner-phase jp-execplanner-phase-${phaseText(s).toLowerCase()}`}
                    >
                      {phaseText(s)}
                    </span>{' '}
                    {!ended && <progress max={100} value={s.progress} />}
                    {reason && (
                      <div
                        className="jp-execplanner-reason"
                        data-testid="ep-session-reason"
                      >
                        {reason}
                      </div>
                    )}
                  </td>
                  <td className="jp-execplanner-num">{s.cores}</td>
                  <td className="jp-execplanner-num">{s.memory} GiB</td>
                  <td>{localTime(s.start)}</td>
                  <td>{formatDuration(s.duration)}</td>
                  <td className="jp-execplanner-actions">
                    {s.open_url && (
                      <a
                        data-testid="ep-session-open"
                        href={s.open_url}
                        target="_blank"
                        rel="noopener noreferrer"
                      >
                        Open
                      </a>
                    )}
                    <button
                      className="jp-execplanner-link"
                      data-testid="ep-session-follow"
                      onClick={() => model.follow(s)}
                    >
                      Progress
                    </button>
                    {!s.terminal && (
                      <button
                        className="jp-execplanner-link"
                        data-testid="ep-session-cancel"
                        onClick={() => void model.cancel(s)}
                      >
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
