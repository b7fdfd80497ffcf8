/**
 * The panel's React view: the tabs, and the Ask tab (the notebook, the hubs, the request form,
 * the error line, then the hubs' answers and the offers, or the followed session's progress).
 * It renders `ExecPlannerModel`, again after every change of it; `data-testid` attributes are the
 * contract the browser tests drive.
 */
import * as React from 'react';

import { ExecPlannerModel } from '../model';
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
      <HubList hubs={model.hubs} />
      <RequestForm
        form={model.form}
        asking={model.answers.asking}
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

export function ExecPlannerView({
  model
}: {
  model: ExecPlannerModel;
}): JSX.Element {
  useSignal(model.changed);
  const tab = model.tab;
  return (
    <div className="jp-execplanner-view">
      <div className="jp-execplanner-tabs" role="tablist">
        <button
          role="tab"
          aria-selected={tab === 'ask'}
          data-testid="ep-tab-ask"
          onClick={() => (model.tab = 'ask')}
        >
          Ask hubs
        </button>
        <button
          role="tab"
          aria-selected={tab === 'sessions'}
          data-testid="ep-tab-sessions"
          onClick={() => (model.tab = 'sessions')}
        >
          My sessions
        </button>
      </div>
      {tab === 'ask' ? <AskTab model={model} /> : <SessionsTab model={model} />}
    </div>
  );
}
