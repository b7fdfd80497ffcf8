/**
 * The hubs to ask: one tick box each (the own hub first), **Remove** on every hub but the own,
 * and the form that adds a hub by name, URL and token.
 */
import * as React from 'react';

import { HubsModel } from '../model/hubs';

export function HubList({ hubs }: { hubs: HubsModel }): JSX.Element {
  const [name, setName] = React.useState('');
  const [url, setUrl] = React.useState('');
  const [token, setToken] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const add = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    const ok = await hubs.add({ name, url, token });
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
                title={`Forget ${hub.name} and its token`}
                onClick={() => void hubs.remove(hub.name)}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      <form className="jp-execplanner-addhub" onSubmit={e => void add(e)}>
        <input
          placeholder="name"
          aria-label="hub name"
          data-testid="ep-add-name"
          value={name}
          onChange={e => setName(e.currentTarget.value)}
        />
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
        <button
          type="submit"
          className="jp-mod-styled"
          data-testid="ep-add-submit"
          disabled={busy}
        >
          Add hub
        </button>
      </form>
    </fieldset>
  );
}
