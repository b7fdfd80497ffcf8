import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { ExecPlannerModel } from '../src/model';
import { ExecPlannerView } from '../src/widget/view';
import {
  answer,
  ASTRO,
  disposeAll,
  hubServer,
  iso,
  NOW,
  offer,
  OWN,
  session,
  settle,
  slowServer,
  track
} from './fixtures';

/** The view's markup (React renders it on the server: no DOM, no effects). */
function html(model: ExecPlannerModel): string {
  return renderToStaticMarkup(<ExecPlannerView model={model} />);
}

/** The opening tags that carry `data-testid="<id>"`. */
function tags(markup: string, id: string): string[] {
  return markup.match(new RegExp(`<[^>]*data-testid="${id}"[^>]*>`, 'g')) ?? [];
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  disposeAll();
  vi.useRealTimers();
});

describe('the Ask tab', () => {
  it('lists the hubs, the own one ticked and kept, the others removable', async () => {
    const model = track(
      new ExecPlannerModel(
        hubServer([OWN, { ...ASTRO, has_token: false }]).request
      )
    );
    model.path = 'work/analysis.ipynb';
    await model.hubs.load();
    const markup = html(model);
    expect(tags(markup, 'ep-tab-ask')[0]).toContain('aria-selected="true"');
    expect(tags(markup, 'ep-path')).toHaveLength(1);
    expect(markup).toContain('work/analysis.ipynb</code>');
    expect(
      tags(markup, 'ep-hub').map(t => t.match(/data-hub="([^"]*)"/)?.[1])
    ).toEqual(['own', 'astro']);
    expect(tags(markup, 'ep-hub-check')[0]).toContain('checked');
    expect(tags(markup, 'ep-hub-check')[1]).not.toContain('checked');
    expect(markup).toContain('your hub');
    expect(markup).toContain('no token');
    expect(tags(markup, 'ep-hub-remove')).toHaveLength(1);
    expect(tags(markup, 'ep-add-token')[0]).toContain('type="password"');
    expect(markup).toContain('<span>Hub URL</span>');
    // the tabs: one in the tab order, the panel labelled by it
    expect(tags(markup, 'ep-tab-ask')[0]).toContain('tabindex="0"');
    expect(tags(markup, 'ep-tab-sessions')[0]).toContain('tabindex="-1"');
    expect(markup).toContain('aria-labelledby="jp-execplanner-tab-ask"');
    expect(tags(markup, 'ep-keep-outputs')[0]).not.toContain('checked');
    expect(tags(markup, 'ep-ask')[0]).not.toContain('disabled');
    expect(tags(markup, 'ep-error')).toEqual([]);
    model.errors.set('Could not add hub "x": refused');
    expect(tags(html(model), 'ep-error')[0]).toContain('role="alert"');
  });

  it('shows each hub asking, then its answer, and the offers with their countdown', async () => {
    const { fake, reply } = slowServer();
    const model = track(new ExecPlannerModel(fake.request));
    model.path = 'a.ipynb';
    await model.hubs.load();
    model.hubs.setSelected('astro', true);
    const asked = model.ask();
    await settle();
    let markup = html(model);
    expect(tags(markup, 'ep-ask')[0]).toContain('disabled');
    expect(markup).toContain('Asking…');
    expect(
      tags(markup, 'ep-answer').map(t => t.match(/data-status="([^"]*)"/)?.[1])
    ).toEqual(['asking', 'asking']);
    expect(tags(markup, 'ep-offers')).toEqual([]);

    await reply('astro', {
      answers: [
        answer('astro', 'YES', {
          offers: [
            offer({ hub: 'astro', uuid: 'live', expires: iso(65) }),
            offer({
              hub: 'astro',
              uuid: 'gone',
              start: iso(60),
              expires: iso(-1)
            })
          ]
        })
      ]
    });
    await reply('own', {
      answers: [answer('own', 'NO', { messages: ['too big'] })]
    });
    await asked;
    markup = html(model);
    expect(
      tags(markup, 'ep-answer').map(t => t.match(/data-status="([^"]*)"/)?.[1])
    ).toEqual(['NO', 'YES']);
    expect(markup).toContain('<li>too big</li>');
    const rows = tags(markup, 'ep-offer');
    expect(rows.map(t => t.match(/data-uuid="([^"]*)"/)?.[1])).toEqual([
      'live',
      'gone'
    ]);
    expect(rows[1]).toContain('class="jp-mod-expired"');
    expect(markup).toContain('1:05');
    const accept = tags(markup, 'ep-accept');
    expect(accept[0]).not.toContain('disabled');
    expect(accept[1]).toContain('disabled');
    // each Accept has its own accessible name: the hub and the start
    const names = accept.map(t => t.match(/aria-label="([^"]*)"/)?.[1]);
    expect(names[0]).toMatch(/^Accept offer from hub \S+, .*, starting /);
    expect(new Set(names).size).toBe(names.length);
    expect(tags(markup, 'ep-answers')[0]).toContain('aria-live="polite"');
    expect(tags(markup, 'ep-sort')).toHaveLength(1);
  });

  it("shows the followed session's progress instead of the offers", async () => {
    const model = track(new ExecPlannerModel(hubServer().request));
    model.progress.show(
      session('COMPLETED', {
        progress: 100,
        messages: ['ready'],
        open_url: 'http://other/lab/tree/a.ipynb'
      })
    );
    const markup = html(model);
    expect(tags(markup, 'ep-progress')[0]).toContain('data-phase="COMPLETED"');
    expect(tags(markup, 'ep-open')[0]).toContain(
      'href="http://other/lab/tree/a.ipynb"'
    );
    expect(tags(markup, 'ep-open')[0]).toContain('target="_blank"');
    expect(tags(markup, 'ep-cancel')[0]).toContain('disabled');
    expect(tags(markup, 'ep-new')).toHaveLength(1);
    expect(tags(markup, 'ep-answer')).toEqual([]);
  });

  it('gives an ended session its own look: FAILED with why, stopping while the server goes', () => {
    const model = track(new ExecPlannerModel(hubServer().request));
    model.progress.show(
      session('FAILED', {
        progress: 48,
        messages: ['installing tinypkg', 'compute.cores.min too large']
      })
    );
    let markup = html(model);
    expect(markup).not.toContain('<progress');
    expect(tags(markup, 'ep-ended')[0]).toContain(
      'jp-execplanner-ended-failed'
    );
    expect(markup).toContain(
      'The session failed. &quot;Cores min&quot; too large'
    );
    model.progress.show(session('CANCELLED', { stopping: true }));
    markup = html(model);
    expect(markup).toMatch(/data-testid="ep-phase"[^>]*>stopping</);
    expect(markup).toContain('Its server is being stopped');
  });

  it('shows each problem of the form next to its field, and names each Accept', async () => {
    const model = track(new ExecPlannerModel(hubServer().request));
    model.form.setField('coresMin', 'x');
    model.form.setField('durationMinutes', '0');
    expect(await model.ask()).toBe(false); // no notebook, no hub ticked either
    const markup = html(model);
    expect(
      tags(markup, 'ep-problem').map(t => t.match(/data-field="([^"]*)"/)?.[1])
    ).toEqual(['coresMin', 'durationMinutes', 'hubs', 'notebook']);
    expect(tags(markup, 'ep-cores-min')[0]).toContain('aria-invalid="true"');
  });
});

describe('the My sessions tab', () => {
  it('lists the sessions, the hubs not reached, and Cancel only while a session goes on', async () => {
    const fake = hubServer().on('GET', 'sessions', () => ({
      sessions: [
        session('RUNNING', {
          hub: 'astro',
          uuid: 'r-1',
          open_url: 'http://astro/lab'
        }),
        session('CANCELLED', { uuid: 'c-1' })
      ],
      errors: [{ hub: 'slow', message: 'no answer within 5 s' }]
    }));
    const model = track(new ExecPlannerModel(fake.request));
    model.tab = 'sessions';
    await settle();
    const markup = html(model);
    expect(tags(markup, 'ep-tab-sessions')[0]).toContain(
      'aria-selected="true"'
    );
    expect(
      tags(markup, 'ep-session').map(t => t.match(/data-uuid="([^"]*)"/)?.[1])
    ).toEqual(['r-1', 'c-1']);
    expect(tags(markup, 'ep-session-error')[0]).toContain('data-hub="slow"');
    expect(tags(markup, 'ep-session-open')).toHaveLength(1);
    expect(tags(markup, 'ep-session-follow')).toHaveLength(2);
    expect(tags(markup, 'ep-session-cancel')).toHaveLength(1);
    expect(tags(markup, 'ep-refresh')[0]).not.toContain('disabled');
  });
});
