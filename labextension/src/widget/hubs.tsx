/**
 * The hubs to ask: one tick box each (the own hub first), **Remove** on every hub the user added,
 * **Link account** / **Link again** / "linked as alice-b" with **Unlink** on each linked hub (a
 * peer of the own hub, asked as the user's account there), and the form that adds a hub by name,
 * URL and token: the server checks it ("connected as alice"), each problem shows next to its
 * field, and the hub added is ticked. The list is fetched again when the link page says it is
 * done (a message to this window) and when the panel's window gets the focus back.
 */
import * as React from 'react';

import { HUB_LABELS, INewHub } from '../form';
import { HubsModel } from '../model/hubs';
import { canAsk, hubKind, linkView } from '../model/links';
import { IHub } from '../types';

/** Listen to the link page (its message to this window) and to the window's focus. */
function useLinkEvents(hubs: HubsModel): void {
  React.useEffect(() => {
    const onMessage = (event: MessageEvent): void => {
      void hubs.linkMessage(event.data, event.origin, window.location.origin);
    };
    const onFocus = (): void => {
      if (hubs.hasLinkedHubs) {
        void hubs.refresh();
      }
    };
    window.addEventListener('message', onMessage);
    window.addEventListener('focus', onFocus);
    return () => {
      window.removeEventListener('message', onMessage);
      window.removeEventListener('focus', onFocus);
    };
  }, [hubs]);
}

/** A linked hub's state and its button: Link account, Link again, or Unlink. */
function LinkControls({
  hub,
  hubs
}: {
  hub: IHub;
  hubs: HubsModel;
}): JSX.Element | null {
  const view = linkView(hub);
  if (!view) {
    return null;
  }
  return (
    <>
      <span
        className={`jp-ExecPlanner-linkState jp-execplanner-badge jp-execplanner-link-${view.state}`}
        data-testid="ep-link-state"
        title={hub.link?.message ?? undefined}
      >
        {view.text}
      </span>
      <button
        className="jp-execplanner-link"
        data-testid={`ep-hub-${view.action}`}
        aria-label={view.ariaLabel}
        title={view.title}
        disabled={!view.enabled}
        onClick={() => {
          if (view.action === 'link') {
            hubs.link(hub.name);
          } else {
            void hubs.unlink(hub.name);
          }
        }}
      >
        {view.label}
      </button>
    </>
  );
}

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
  useLinkEvents(hubs);
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
          <li
            key={hub.name}
            data-testid="ep-hub"
            data-hub={hub.name}
            data-kind={hubKind(hub)}
            data-link={hub.link?.state ?? undefined}
          >
            <label title={hub.link?.url ?? hub.url}>
              <input
                type="checkbox"
                data-testid="ep-hub-check"
                checked={hubs.isSelected(hub.name)}
                disabled={!canAsk(hub)}
                onChange={e =>
                  hubs.setSelected(hub.name, e.currentTarget.checked)
                }
              />{' '}
              <strong>{hub.name}</strong>{' '}
              <span className="jp-execplanner-muted">
                {hub.link?.url ?? hub.url}
              </span>
              {hub.own && (
                <span className="jp-execplanner-badge">your hub</span>
              )}
              {hubKind(hub) === 'added' && !hub.has_token && (
                <span className="jp-execplanner-badge">no token</span>
              )}
            </label>{' '}
            <LinkControls hub={hub} hubs={hubs} />
            {hubKind(hub) === 'added' && (
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
      {hubs.linksError && (
        <p className="jp-execplanner-muted" data-testid="ep-links-error">
          {hubs.linksError}
        </p>
      )}
      {hubs.linkNotice && (
        <p
          className="jp-execplanner-muted"
          data-testid="ep-link-notice"
          role="status"
        >
          {hubs.linkNotice}
        </p>
      )}
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
