/**
 * The "Run elsewhere" panel's React view: the Ask tab (hubs, request form, answers and offers,
 * the accepted session's progress) and the "My sessions" tab. It renders `ExecPlannerModel` and
 * calls its methods; `data-testid` attributes are the contract the browser tests drive.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import { ExecPlannerModel, IForm } from './model';
import {
  costDetails,
  costText,
  countdownText,
  formatAccelerators,
  formatDuration,
  formatStart,
  isExpired,
  isSortKey,
  proximityText,
  SORT_KEYS,
  SORT_LABELS
} from './offers';
import { IOffer, ISession } from './types';

/** Re-render on every change of the model. */
function useModel(model: ExecPlannerModel): void {
  const [, bump] = React.useReducer((n: number) => n + 1, 0);
  React.useEffect(() => {
    const slot = (): void => bump();
    model.changed.connect(slot);
    return () => {
      model.changed.disconnect(slot);
    };
  }, [model]);
}

/** The current time, updated every `ms` (the offers' expiry countdowns). */
function useNow(ms = 1000): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

function localTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}

function ErrorLine({ model }: { model: ExecPlannerModel }): JSX.Element | null {
  if (!model.error) {
    return null;
  }
  return (
    <div className="jp-execplanner-error" data-testid="ep-error" role="alert">
      {model.error}
      <button className="jp-execplanner-link" title="Dismiss" onClick={() => model.clearError()}>
        ×
      </button>
    </div>
  );
}

function HubList({ model }: { model: ExecPlannerModel }): JSX.Element {
  const [name, setName] = React.useState('');
  const [url, setUrl] = React.useState('');
  const [token, setToken] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const add = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    const ok = await model.addHub({ name, url, token });
    setBusy(false);
    setToken(''); // never kept in the page longer than needed
    if (ok) {
      setName('');
      setUrl('');
    }
  };
  return (
    <fieldset className="jp-execplanner-hubs">
      <legend>Hubs to ask</legend>
      {model.hubs.length === 0 && (
        <p className="jp-execplanner-muted">{model.loadingHubs ? 'Loading hubs…' : 'No hub yet: add one below.'}</p>
      )}
      <ul>
        {model.hubs.map(hub => (
          <li key={hub.name} data-testid="ep-hub" data-hub={hub.name}>
            <label title={hub.url}>
              <input
                type="checkbox"
                data-testid="ep-hub-check"
                checked={model.isSelected(hub.name)}
                onChange={e => model.setSelected(hub.name, e.currentTarget.checked)}
              />{' '}
              <strong>{hub.name}</strong> <span className="jp-execplanner-muted">{hub.url}</span>
              {hub.own && <span className="jp-execplanner-badge">your hub</span>}
              {!hub.own && !hub.has_token && <span className="jp-execplanner-badge">no token</span>}
            </label>
            {!hub.own && (
              <button
                className="jp-execplanner-link"
                data-testid="ep-hub-remove"
                title={`Forget ${hub.name} and its token`}
                onClick={() => void model.removeHub(hub.name)}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      <form className="jp-execplanner-addhub" onSubmit={e => void add(e)}>
        <input placeholder="name" aria-label="hub name" data-testid="ep-add-name" value={name} onChange={e => setName(e.currentTarget.value)} />
        <input
          placeholder="https://hub.example.org/"
          aria-label="hub or broker URL"
          data-testid="ep-add-url"
          value={url}
          onChange={e => setUrl(e.currentTarget.value)}
        />
        <input
          type="password"
          placeholder="API token"
          aria-label="API token on that hub"
          autoComplete="off"
          data-testid="ep-add-token"
          value={token}
          onChange={e => setToken(e.currentTarget.value)}
        />
        <button type="submit" className="jp-mod-styled" data-testid="ep-add-submit" disabled={busy}>
          Add hub
        </button>
      </form>
    </fieldset>
  );
}

function Field(props: {
  model: ExecPlannerModel;
  field: keyof IForm;
  label: string;
  testid: string;
  type?: string;
  min?: number;
  step?: string;
}): JSX.Element {
  const { model, field, label, testid } = props;
  return (
    <label className="jp-execplanner-field">
      <span>{label}</span>
      <input
        type={props.type ?? 'number'}
        min={props.min}
        step={props.step}
        data-testid={testid}
        value={model.form[field]}
        onChange={e => model.setField(field, e.currentTarget.value)}
      />
    </label>
  );
}

const DATA_PLACEHOLDER = [
  'https://archive.example.org/survey/cat.fits',
  'dr1=ivo://example.org/survey?dr1',
  's3://bucket/path/object.fits',
  'rucio:scope:name'
].join('\n');

function RequestForm({ model }: { model: ExecPlannerModel }): JSX.Element {
  return (
    <form
      className="jp-execplanner-request"
      onSubmit={e => {
        e.preventDefault();
        void model.ask();
      }}
    >
      <fieldset>
        <legend>What the notebook needs</legend>
        <div className="jp-execplanner-row">
          <Field model={model} field="coresMin" label="Cores min" testid="ep-cores-min" min={1} step="1" />
          <Field model={model} field="coresMax" label="Cores max" testid="ep-cores-max" min={1} step="1" />
          <Field model={model} field="memoryMin" label="Memory min (GiB)" testid="ep-memory-min" min={1} step="1" />
          <Field model={model} field="memoryMax" label="Memory max (GiB)" testid="ep-memory-max" min={1} step="1" />
          <Field model={model} field="gpus" label="GPUs" testid="ep-gpus" min={0} step="1" />
        </div>
        <div className="jp-execplanner-row">
          <Field model={model} field="durationMinutes" label="Duration (minutes)" testid="ep-duration" min={1} step="any" />
          <Field model={model} field="startEarliest" label="Start earliest" testid="ep-start-earliest" type="datetime-local" />
          <Field model={model} field="startLatest" label="Start latest" testid="ep-start-latest" type="datetime-local" />
          <Field model={model} field="timeout" label="Wait per hub (s)" testid="ep-timeout" min={0} step="any" />
        </div>
        <label className="jp-execplanner-field jp-execplanner-data">
          <span>Data (one per line)</span>
          <textarea
            data-testid="ep-data"
            rows={3}
            spellCheck={false}
            placeholder={DATA_PLACEHOLDER}
            title="An https:// URL, ivo://…, s3://bucket/key or rucio:scope:name a line, optionally after name=; each appears read-only at /data/<name> on the hub"
            value={model.form.data}
            onChange={e => model.setField('data', e.currentTarget.value)}
          />
        </label>
      </fieldset>
      <button type="submit" className="jp-mod-styled jp-mod-accept" data-testid="ep-ask" disabled={model.asking}>
        {model.asking ? 'Asking…' : 'Ask'}
      </button>
    </form>
  );
}

/** Whole seconds since `started` ("3 s"), for a hub that has not answered yet. */
function waited(started: number | null, now: number): string {
  return started === null ? '' : `${Math.max(0, Math.floor((now - started) / 1000))} s`;
}

function Answers({ model }: { model: ExecPlannerModel }): JSX.Element | null {
  const now = useNow(1000);
  const rows = model.answerRows;
  if (rows.length === 0) {
    return null;
  }
  return (
    <ul className="jp-execplanner-answers">
      {rows.map(row => (
        <li key={row.hub} data-testid="ep-answer" data-hub={row.hub} data-status={row.status}>
          <strong>{row.hub}</strong>:{' '}
          {row.status === 'asking' ? (
            <span className="jp-execplanner-status-asking" title="This hub has not answered yet">
              <span className="jp-execplanner-spinner" aria-hidden="true" />
              {row.summary} <span className="jp-execplanner-muted">{waited(model.askStarted, now)}</span>
            </span>
          ) : (
            <>
              <span className={`jp-execplanner-status-${row.status}`}>{row.status}</span>{' '}
              <span className="jp-execplanner-muted">{row.summary}</span>
            </>
          )}
          {row.messages.length > 0 && (
            <ul className="jp-execplanner-reasons">
              {row.messages.map((m, i) => (
                <li key={i}>{m}</li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}

function OfferRow({ model, offer, now }: { model: ExecPlannerModel; offer: IOffer; now: number }): JSX.Element {
  const expired = isExpired(offer.expires, now);
  return (
    <tr data-testid="ep-offer" data-hub={offer.hub} data-uuid={offer.uuid} className={expired ? 'jp-mod-expired' : ''}>
      <td>{offer.hub}</td>
      <td>
        {offer.profile}
        {(offer.notes ?? []).map((note, i) => (
          <div key={i} className="jp-execplanner-note">
            {note}
          </div>
        ))}
      </td>
      <td className="jp-execplanner-num">{offer.cores}</td>
      <td className="jp-execplanner-num">{offer.memory} GiB</td>
      <td>{formatAccelerators(offer.accelerators)}</td>
      <td title={localTime(offer.start)}>{formatStart(offer.start, now)}</td>
      <td>{formatDuration(offer.duration)}</td>
      <td title={costDetails(offer)}>{costText(offer)}</td>
      <td>{proximityText(offer)}</td>
      <td className="jp-execplanner-num" title={localTime(offer.expires)}>
        {countdownText(offer.expires, now)}
      </td>
      <td>
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="ep-accept"
          disabled={expired}
          onClick={() => void model.accept(offer)}
        >
          Accept
        </button>
      </td>
    </tr>
  );
}

function Offers({ model }: { model: ExecPlannerModel }): JSX.Element | null {
  const now = useNow(1000);
  const offers = model.offers;
  if (model.answers.length === 0) {
    return null;
  }
  return (
    <div className="jp-execplanner-offers">
      <label>
        Sort by{' '}
        <select
          data-testid="ep-sort"
          value={model.sortKey}
          onChange={e => {
            const value = e.currentTarget.value;
            if (isSortKey(value)) {
              model.sortKey = value;
            }
          }}
        >
          {SORT_KEYS.map(key => (
            <option key={key} value={key}>
              {SORT_LABELS[key]}
            </option>
          ))}
        </select>
      </label>
      {offers.length === 0 ? (
        <p className="jp-execplanner-muted">
          {model.asking ? 'No offers yet: waiting for the other hubs.' : "No offers: see each hub's answer above."}
        </p>
      ) : (
        <table data-testid="ep-offers">
          <thead>
            <tr>
              <th>Hub</th>
              <th>Profile</th>
              <th>Cores</th>
              <th>Memory</th>
              <th>Accelerators</th>
              <th>Start</th>
              <th>Duration</th>
              <th>Cost</th>
              <th>Data</th>
              <th>Expires in</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {offers.map(offer => (
              <OfferRow key={`${offer.hub}/${offer.uuid}`} model={model} offer={offer} now={now} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Progress({ model, session }: { model: ExecPlannerModel; session: ISession }): JSX.Element {
  return (
    <section className="jp-execplanner-progress" data-testid="ep-progress" data-phase={session.phase}>
      <h3>
        {session.profile || 'Session'} on {session.hub}: <span data-testid="ep-phase">{session.phase}</span>
      </h3>
      <progress max={100} value={session.progress} />
      <ul data-testid="ep-messages">
        {session.messages.map((m, i) => (
          <li key={i}>{m}</li>
        ))}
      </ul>
      {model.pollError && <p className="jp-execplanner-error">Could not update: {model.pollError}</p>}
      <div className="jp-execplanner-actions">
        {session.open_url && (
          <a className="jp-mod-styled" data-testid="ep-open" href={session.open_url} target="_blank" rel="noopener noreferrer">
            Open
          </a>
        )}
        <button className="jp-mod-styled jp-mod-warn" data-testid="ep-cancel" disabled={session.terminal} onClick={() => void model.cancel()}>
          Cancel
        </button>
        <button className="jp-mod-styled" data-testid="ep-new" onClick={() => model.closeSession()}>
          New request
        </button>
      </div>
    </section>
  );
}

function AskTab({ model }: { model: ExecPlannerModel }): JSX.Element {
  const session = model.session;
  return (
    <div className="jp-execplanner-tab">
      <p>
        Notebook:{' '}
        <code data-testid="ep-path">{model.path || '(none: right-click a notebook and choose "Run elsewhere…")'}</code>
      </p>
      <HubList model={model} />
      <RequestForm model={model} />
      <ErrorLine model={model} />
      {session ? (
        <Progress model={model} session={session} />
      ) : (
        <>
          <Answers model={model} />
          <Offers model={model} />
        </>
      )}
    </div>
  );
}

function SessionsTab({ model }: { model: ExecPlannerModel }): JSX.Element {
  return (
    <div className="jp-execplanner-tab">
      <button className="jp-mod-styled" data-testid="ep-refresh" disabled={model.loadingSessions} onClick={() => void model.loadSessions()}>
        {model.loadingSessions ? 'Refreshing…' : 'Refresh'}
      </button>
      <ErrorLine model={model} />
      {model.sessionErrors.map(e => (
        <div key={e.hub} className="jp-execplanner-error" data-testid="ep-session-error" data-hub={e.hub}>
          {e.hub}: {e.message}
        </div>
      ))}
      {model.sessions.length === 0 ? (
        <p className="jp-execplanner-muted">{model.loadingSessions ? 'Loading…' : 'No sessions.'}</p>
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
            {model.sessions.map(s => (
              <tr key={`${s.hub}/${s.uuid}`} data-testid="ep-session" data-hub={s.hub} data-uuid={s.uuid} data-phase={s.phase}>
                <td>{s.hub}</td>
                <td>{s.profile}</td>
                <td>
                  {s.phase} <progress max={100} value={s.progress} />
                </td>
                <td className="jp-execplanner-num">{s.cores}</td>
                <td className="jp-execplanner-num">{s.memory} GiB</td>
                <td>{localTime(s.start)}</td>
                <td>{formatDuration(s.duration)}</td>
                <td className="jp-execplanner-actions">
                  {s.open_url && (
                    <a data-testid="ep-session-open" href={s.open_url} target="_blank" rel="noopener noreferrer">
                      Open
                    </a>
                  )}
                  <button className="jp-execplanner-link" data-testid="ep-session-follow" onClick={() => model.follow(s)}>
                    Progress
                  </button>
                  {!s.terminal && (
                    <button className="jp-execplanner-link" data-testid="ep-session-cancel" onClick={() => void model.cancel(s)}>
                      Cancel
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function ExecPlannerView({ model }: { model: ExecPlannerModel }): JSX.Element {
  useModel(model);
  const tab = model.tab;
  return (
    <div className="jp-execplanner-view">
      <div className="jp-execplanner-tabs" role="tablist">
        <button role="tab" aria-selected={tab === 'ask'} data-testid="ep-tab-ask" onClick={() => (model.tab = 'ask')}>
          Ask hubs
        </button>
        <button role="tab" aria-selected={tab === 'sessions'} data-testid="ep-tab-sessions" onClick={() => (model.tab = 'sessions')}>
          My sessions
        </button>
      </div>
      {tab === 'ask' ? <AskTab model={model} /> : <SessionsTab model={model} />}
    </div>
  );
}

/** The panel's content widget: the React view over a model it owns. */
export class ExecPlannerWidget extends ReactWidget {
  constructor(readonly model: ExecPlannerModel) {
    super();
    this.addClass('jp-execplanner-Widget');
  }

  protected render(): JSX.Element {
    return <ExecPlannerView model={this.model} />;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }
}
