/**
 * The panel's React view: the tabs (the ARIA tabs pattern: arrow keys, Home and End move between
 * them), and the Ask tab (the notebook, the hubs, the request form, the error line, then the hubs'
 * answers and the offers, or the followed session's progress). It renders `ExecPlannerModel`,
 * again after every change of it; `data-testid` attributes are the contract the browser tests
 * drive.
 */
import * as React from 'react';

import { ExecPlannerModel, Tab } from '../model';
import { Answers } from './answers';
import { ErrorLine } from './error';
import { RequestForm } from './form';
import { useSignal } from './hooks';
import { HubList } from './hubs';
import { Offers } from './offers';
import { Progress } from './progress';
import { SessionsTab } from './sessions';

function AskTab({ model }: { model: ExecPlannerModel }): JSX.Element {
  const session = model.progress.session;
  return (
    <div className="jp-execplanner-tab">
      <p>
        Notebook:{' '}
        <code data-testid="ep-path">
          {model.path ||
            '(none: right-click a notebook and choose "Run elsewhere…")'}
        </code>
      </p>
      <HubList
        hubs={model.hubs}
        onRemove={name => void model.removeHub(name)}
      />
      <RequestForm
        form={model.form}
        files={model.files}
        asking={model.answers.asking}
        releasing={model.releasing}
        onAsk={() => void model.ask()}
      />
      <ErrorLine errors={model.errors} />
      {session ? (
        <Progress
          session={session}
          pollError={model.progress.pollError}
          onCancel={() => void model.cancel()}
          onClose={() => model.closeSession()}
        />
      ) : (
        <>
          <Answers answers={model.answers} />
          <Offers
            answers={model.answers}
            table={model.offers}
            onAccept={offer => void model.accept(offer)}
          />
        </>
      )}
    </div>
  );
}

const TABS: { id: Tab; label: string }[] = [
  { id: 'ask', label: 'Ask hubs' },
  { id: 'sessions', label: 'My sessions' }
];

export function ExecPlannerView({
  model
}: {
  model: ExecPlannerModel;
}): JSX.Element {
  useSignal(model.changed);
  const tab = model.tab;
  const refs = React.useRef<Record<string, HTMLButtonElement | null>>({});
  const onKeyDown = (event: React.KeyboardEvent): void => {
    const at = TABS.findIndex(t => t.id === tab);
    const next: Record<string, number> = {
      ArrowRight: (at + 1) % TABS.length,
      ArrowLeft: (at - 1 + TABS.length) % TABS.length,
      Home: 0,
      End: TABS.length - 1
    };
    if (event.key in next) {
      event.preventDefault();
      const target = TABS[next[event.key]].id;
      model.tab = target;
      refs.current[target]?.focus();
    }
  };
  return (
    <div className="jp-execplanner-view">
      <div
        className="jp-execplanner-tabs"
        role="tablist"
        aria-label="Run elsewhere"
        onKeyDown={onKeyDown}
      >
        {TABS.map(t => (
          <button
            key={t.id}
            ref={el => {
              refs.current[t.id] = el;
            }}
            role="tab"
            id={`jp-execplanner-tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`jp-execplanner-tabpanel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            data-testid={`ep-tab-${t.id}`}
            onClick={() => (model.tab = t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id={`jp-execplanner-tabpanel-${tab}`}
        aria-labelledby={`jp-execplanner-tab-${tab}`}
      >
        {tab === 'ask' ? (
          <AskTab model={model} />
        ) : (
          <SessionsTab model={model} />
        )}
      </div>
    </div>
  );
}
