/**
 * The hubs to ask: one tick box each (the own hub first), **Remove** on every hub but the own,
 * and the form that adds a hub by name, URL and token: the server checks it ("connected as
 * alice"), each problem shows next to its field, and the hub added is ticked.
 */
import * as React from 'react';

import { HUB_LABELS, INewHub } from '../form';
import { HubsModel } from '../model/hubs';

function HubField(props: {
  field: keyof INewHub;
  value: string;
  problem: string | undefined;
  placeholder: string;
  type?: string;
  onChange: (value: string) => void;
}): JSX.Element {
  const { field, problem } = props;
  const id = `jp-execplanner-add-${field}`;
  return (
    <label className="jp-execplanner-field">
      <span>{HUB_LABELS[field]}</span>
      <input
        id={id}
        type={props.type ?? 'text'}
        placeholder={props.placeholder}
        autoComplete="off"
        data-testid={`ep-add-${field}`}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? `${id}-problem` : undefined}
        value={props.value}
        onChange={e => props.onChange(e.currentTarget.value)}
      />
      {problem && (
        <span
          id={`${id}-problem`}
          className="jp-execplanner-problem"
          data-testid="ep-add-problem"
          data-field={field}
        >
          {problem}
        </span>
      )}
    </label>
  );
}

export function HubList({
  hubs,
  onRemove
}: {
  hubs: HubsModel;
  onRemove: (name: string) => void;
}): JSX.Element {
  const [name, setName] = React.useState('');
  const [url, setUrl] = React.useState('');
  const [token, setToken] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const add = async (check: boolean): Promise<void> => {
    setBusy(true);
    const ok = await hubs.add({ name, url, token }, check);
    setBusy(false);
    if (ok) {
      setName('');
      setUrl('');
      setToken(''); // never kept in the page longer than needed
    }
  };
  const problems = hubs.addProblems;
  return (
    <fieldset className="jp-execplanner-hubs">
      <legend>Hubs to ask</legend>
      {hubs.list.length === 0 && (
        <p className="jp-execplanner-muted">
          {hubs.loading ? 'Loading hubs…' : 'No hub yet: add one below.'}
        </p>
      )}
      <ul>
        {hubs.list.map(hub => (
          <li key={hub.name} data-testid="ep-hub" data-hub={hub.name}>
            <label title={hub.url}>
              <input
                type="checkbox"
                data-testid="ep-hub-check"
                checked={hubs.isSelected(hub.name)}
                onChange={e =>
                  hubs.setSelected(hub.name, e.currentTarget.checked)
                }
              />{' '}
              <strong>{hub.name}</strong>{' '}
              <span className="jp-execplanner-muted">{hub.url}</span>
              {hub.own && (
                <span className="jp-execplanner-badge">your hub</span>
              )}
              {!hub.own && !hub.has_token && (
                <span className="jp-execplanner-badge">no token</span>
              )}
            </label>
            {!hub.own && (
              <button
                className="jp-execplanner-link"
                data-testid="ep-hub-remove"
                aria-label={`Remove hub ${hub.name}`}
                title={`Forget ${hub.name} and its token`}
                onClick={() => onRemove(hub.name)}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      <form
        className="jp-execplanner-addhub"
        aria-label="Add a hub"
        onSubmit={e => {
          e.preventDefault();
          void add(true);
        }}
      >
        <HubField
          field="name"
          value={name}
          problem={problems.name}
          placeholder="astro-eu"
          onChange={value => {
            setName(value);
            hubs.clearProblem('name');
          }}
        />
        <HubField
          field="url"
          value={url}
          problem={problems.url}
          placeholder="https://hub.example.org/"
          onChange={value => {
            setUrl(value);
            hubs.clearProblem('url');
          }}
        />
        <HubField
          field="token"
          type="password"
          value={token}
          problem={problems.token}
          placeholder="from the hub's /hub/token page"
          onChange={value => {
            setToken(value);
            hubs.clearProblem('token');
          }}
        />
        <button
          type="submit"
          className="jp-mod-styled"
          data-testid="ep-add-submit"
          disabled={busy}
        >
          {busy ? 'Checking…' : 'Add hub'}
        </button>
        {hubs.unreachable && !busy && (
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn"
            data-testid="ep-add-anyway"
            title="Keep the hub although it could not be reached now; each Ask tries it again"
            onClick={() => void add(false)}
          >
            Add without checking
          </button>
        )}
      </form>
      {hubs.connected && (
        <p
          className="jp-execplanner-connected"
          data-testid="ep-add-connected"
          role="status"
        >
          {hubs.connected}
        </p>
      )}
    </fieldset>
  );
}
