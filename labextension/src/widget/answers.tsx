/**
 * One line per hub asked: `asking…` with the seconds waited until it answers, then its status
 * (`YES`, `NO`, `timeout`, `error`) with a summary and the hub's reasons, written for a person
 * (fields named as the form names them, local times, each reason once). A polite live region, so
 * that a screen reader says each answer as it comes.
 */
import * as React from 'react';

import { hubFailureText, readableMessages } from '../messages';
import { AnswersModel } from '../model/answers';
import { useNow } from './hooks';

/** Whole seconds since `started` ("3 s"), for a hub that has not answered yet. */
function waited(started: number | null, now: number): string {
  return started === null
    ? ''
    : `${Math.max(0, Math.floor((now - started) / 1000))} s`;
}

/** A linked hub's row when its account must be linked (again): not an error. */
const LINK_TEXT: Record<string, string> = {
  unlinked: 'not linked',
  expired: 'link again'
};

const STATUS_TEXT: Record<string, string> = {
  YES: 'YES',
  NO: 'NO',
  timeout: 'no answer',
  error: 'could not ask'
};

export function Answers({
  answers
}: {
  answers: AnswersModel;
}): JSX.Element | null {
  const now = useNow(1000);
  const rows = answers.rows;
  return (
    <ul
      className="jp-execplanner-answers"
      aria-live="polite"
      aria-label="Answers of the hubs"
      data-testid="ep-answers"
    >
      {rows.map(row => {
        const messages =
          row.status === 'error' && !row.link
            ? readableMessages(row.messages.map(hubFailureText))
            : readableMessages(row.messages);
        return (
          <li
            key={row.hub}
            data-testid="ep-answer"
            data-hub={row.hub}
            data-status={row.status}
            data-link={row.link ?? undefined}
          >
            <strong>{row.hub}</strong>:{' '}
            {row.link ? (
              <span
                className="jp-execplanner-status-link"
                title="Link your account on this hub (beside it in the list), then ask again"
              >
                {LINK_TEXT[row.link] ?? row.link}
              </span>
            ) : row.status === 'asking' ? (
              <span
                className="jp-execplanner-status-asking"
                title="This hub has not answered yet"
              >
                <span className="jp-execplanner-spinner" aria-hidden="true" />
                {row.summary}{' '}
                <span className="jp-execplanner-muted">
                  {waited(answers.askStarted, now)}
                </span>
              </span>
            ) : (
              <>
                <span className={`jp-execplanner-status-${row.status}`}>
                  {STATUS_TEXT[row.status] ?? row.status}
                </span>{' '}
                <span className="jp-execplanner-muted">{row.summary}</span>
              </>
            )}
            {messages.length > 0 && (
              <ul className="jp-execplanner-reasons">
                {messages.map((m, i) => (
                  <li key={i}>{m}</li>
                ))}
              </ul>
            )}
          </li>
        );
      })}
    </ul>
  );
}
