import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, describe, expect, it } from 'vitest';

import { ExecPlannerModel } from '../src/model';
import { ExecPlannerView } from '../src/widget/view';
import { IHub, LinkState } from '../src/types';
import {
  answer,
  disposeAll,
  FakeServer,
  OWN,
  REQUEST,
  track
} from './fixtures';

afterEach(disposeAll);

function peer(
  name: string,
  state: LinkState,
  user: string | null = null
): IHub {
  return {
    name,
    url: `http://127.0.0.1:8000/services/execplanner/peers/${name}/`,
    own: false,
    has_token: true,
    kind: 'linked',
    link: {
      state,
      user,
      authorize: `http://127.0.0.1:8000/services/execplanner/links/${name}/authorize`,
      expires_at: null,
      message: null,
      url: `https://${name}.example.org/services/execplanner/`
    }
  };
}

/** The opening tag of the hub row of `hub`, and the markup up to the next row. */
function row(markup: string, hub: string): string {
  const at = markup.indexOf(`data-hub="${hub}"`);
  const end = markup.indexOf('</li>', at);
  return at < 0 ? '' : markup.slice(at, end);
}

describe('the hub rows of linked hubs', () => {
  it('show Link account, Link again, or "linked as" with Unlink; no Remove', async () => {
    const hubs = [
      { ...OWN, kind: 'own' as const, link: null },
      peer('hub-b', 'unlinked'),
      peer('hub-c', 'expired'),
      peer('hub-d', 'linked', 'alice-d')
    ];
    const fake = new FakeServer().on('GET', 'hubs', () => ({ hubs }));
    const model = track(new ExecPlannerModel(fake.request));
    await model.hubs.load();
    const markup = renderToStaticMarkup(<ExecPlannerView model={model} />);

    const b = row(markup, 'hub-b');
    expect(b).toContain('data-kind="linked"');
    expect(b).toContain('aria-label="Link account on hub-b"');
    expect(b).toContain('>Link account</button>');
    expect(b).toMatch(/<input[^>]*disabled=""/); // cannot be ticked before it is linked
    expect(b).toContain('https://hub-b.example.org/services/execplanner/'); // the hub, not the relay
    expect(b).not.toContain('Remove');

    const c = row(markup, 'hub-c');
    expect(c).toContain('aria-label="Link again on hub-c"');
    expect(c).toContain('>Link again</button>');
    expect(c).toContain('data-link="expired"');

    const d = row(markup, 'hub-d');
    expect(d).toMatch(
      /<span class="jp-ExecPlanner-linkState[^"]*"[^>]*>linked as alice-d<\/span>/
    );
    expect(d).toContain('aria-label="Unlink hub-d"');
    expect(d).not.toMatch(/<input[^>]*disabled/);

    expect(row(markup, 'own')).not.toContain('jp-ExecPlanner-linkState');
  });

  it('an answer that needs a link again is shown as that, not in red', async () => {
    const fake = new FakeServer()
      .on('GET', 'hubs', () => ({
        hubs: [OWN, peer('hub-b', 'linked', 'alice-b')]
      }))
      .on('POST', 'prepare', () => ({ request: REQUEST }))
      .on('POST', 'ask', () => ({
        answers: [
          answer('hub-b', 'error', {
            link: 'expired',
            messages: [
              'Your link to hub-b has expired or was revoked there: link your account again.'
            ]
          })
        ]
      }));
    const model = track(new ExecPlannerModel(fake.request));
    model.path = 'a.ipynb';
    await model.hubs.load();
    model.hubs.setSelected('own', false);
    model.hubs.setSelected('hub-b', true);
    await model.ask();
    const markup = renderToStaticMarkup(<ExecPlannerView model={model} />);
    const answerRow = markup.slice(markup.indexOf('data-testid="ep-answer"'));
    expect(answerRow).toContain('data-link="expired"');
    expect(answerRow).toContain('jp-execplanner-status-link');
    expect(answerRow).not.toContain('jp-execplanner-status-error');
    expect(markup).not.toContain('data-testid="ep-error"');
    expect(row(markup, 'hub-b')).toContain('>Link again</button>');
    expect(markup).toContain('data-testid="ep-link-notice"');
  });
});
