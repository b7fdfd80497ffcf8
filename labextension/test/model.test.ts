import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { DEFAULTS } from '../src/form';
import { ExecPlannerModel } from '../src/model';
import { POLL_FAST_MS, POLL_SLOW_MS } from '../src/model/session';
import { APIError, ISession } from '../src/types';
import {
  answer,
  emissions,
  disposeAll,
  FakeServer,
  hubServer,
  offer,
  session,
  settle,
  slowServer,
  track
} from './fixtures';

afterEach(disposeAll);

async function loaded(
  fake: FakeServer,
  path = 'work/analysis.ipynb'
): Promise<ExecPlannerModel> {
  const model = track(new ExecPlannerModel(fake.request));
  model.path = path;
  await model.hubs.load();
  return model;
}

describe('the composed model', () => {
  it('starts on the Ask tab with the settings defaults and nothing asked', () => {
    const model = track(
      new ExecPlannerModel(new FakeServer().request, { ...DEFAULTS, gpus: 2 })
    );
    expect(model.tab).toBe('ask');
    expect(model.path).toBe('');
    expect(model.form.values.gpus).toBe('2');
    expect(model.errors.message).toBeNull();
    expect(model.answers.rows).toEqual([]);
    expect(model.progress.session).toBeNull();
  });

  it('emits changed after a change of any part', async () => {
    const model = track(new ExecPlannerModel(hubServer().request));
    const changes = emissions(model.changed);
    model.form.setField('gpus', '1');
    model.offers.sortKey = 'cost';
    expect(changes.count).toBe(2);
    model.errors.set('x');
    model.hubs.setSelected('own', true);
    model.path = 'a.ipynb';
    expect(changes.count).toBeGreaterThanOrEqual(5);
    model.path = 'a.ipynb'; // the same notebook: no change
    const before = changes.count;
    model.path = 'a.ipynb';
    expect(changes.count).toBe(before);
  });

  it('disposes of its parts, and emits nothing after', () => {
    const model = new ExecPlannerModel(hubServer().request);
    const changes = emissions(model.changed);
    model.dispose();
    expect(model.isDisposed).toBe(true);
    expect(model.hubs.isDisposed && model.progress.isDisposed).toBe(true);
    model.form.setField('gpus', '1');
    expect(changes.count).toBe(0);
    model.dispose(); // twice is fine
  });

  it('asks the ticked hubs with the form, and leaves the progress view', async () => {
    const fake = hubServer()
      .on('POST', 'prepare', () => ({ request: { name: 'a' } }))
      .on('POST', 'ask', call => {
        const hub = (call.body as { hubs: string[] }).hubs[0];
        return { answers: [answer(hub, 'NO', { messages: ['full'] })] };
      });
    const model = await loaded(fake);
    model.hubs.setSelected('astro', true);
    model.form.setField('coresMax', '4');
    model.progress.show(session('COMPLETED'));
    expect(await model.ask()).toBe(true);
    expect(model.progress.session).toBeNull();
    expect(fake.calls.find(c => c.endPoint === 'prepare')?.body).toMatchObject({
      path: 'work/analysis.ipynb',
      cores: { min: 1, max: 4 }
    });
    expect(model.answers.rows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'NO'],
      ['astro', 'NO']
    ]);
  });

  it('does not call the server for a bad form', async () => {
    const { fake } = slowServer();
    const model = await loaded(fake);
    model.form.setField('coresMax', '0');
    expect(await model.ask()).toBe(false);
    model.form.setField('memoryMin', 'x');
    expect(await model.ask()).toBe(false);
    expect(model.errors.message).toMatch(/^Cores max: must be at least 1/);
    // every problem, each next to its field
    expect(model.form.problems).toEqual({
      coresMax: 'Cores max: must be at least 1 (got 0)',
      memoryMin: 'Memory min (GiB): enter a number (got "x")'
    });
    expect(fake.count('POST', 'prepare') + fake.count('POST', 'ask')).toBe(0);
    model.form.setField('coresMax', '2'); // a field changed: its problem goes
    expect(Object.keys(model.form.problems)).toEqual(['memoryMin']);
  });

  it('drops the late answers of an ask the user has left, and asks again', async () => {
    const { fake, reply } = slowServer();
    fake.on('POST', 'sessions/own/o-1', () =>
      session('ACCEPTED', { uuid: 'o-1' })
    );
    const model = await loaded(fake);
    model.hubs.setSelected('hung', true);
    const first = model.ask();
    await settle();
    await reply('own', {
      answers: [
        answer('own', 'YES', { offers: [offer({ hub: 'own', uuid: 'o-1' })] })
      ]
    });
    // she accepts own's offer while hung is still asked: the ask is over for her
    expect(await model.accept(model.offers.offers[0])).toBe(true);
    expect(model.answers.asking).toBe(false);
    model.closeSession();
    expect(model.answers.rows).toEqual([]);

    // a new ask; then the first ask's hung hub times out: its answer is not shown
    const second = model.ask();
    await settle();
    expect(fake.count('POST', 'prepare')).toBe(2);
    await reply('hung', { answers: [answer('hung', 'timeout')] }, 0);
    expect(await first).toBe(false);
    expect(model.answers.rows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'asking'],
      ['hung', 'asking']
    ]);
    await reply(
      'own',
      { answers: [answer('own', 'NO', { messages: ['full'] })] },
      1
    );
    await reply(
      'hung',
      {
        answers: [
          answer('hung', 'YES', {
            offers: [offer({ hub: 'hung', uuid: 'h-1' })]
          })
        ]
      },
      1
    );
    expect(await second).toBe(true);
    expect(model.answers.rows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'NO'],
      ['hung', 'YES']
    ]);
    expect(model.offers.offers.map(o => o.uuid)).toEqual(['h-1']);
  });

  it('drops the late answers of an ask for another notebook', async () => {
    const { fake, reply } = slowServer();
    const model = await loaded(fake);
    const first = model.ask();
    await settle();
    model.path = 'other.ipynb';
    expect(model.answers.asking).toBe(false);
    await reply('own', {
      answers: [answer('own', 'YES', { offers: [offer()] })]
    });
    expect(await first).toBe(false);
    expect(model.answers.answers).toEqual([]);
    expect(model.offers.offers).toEqual([]);
  });

  it('refuses a second ask while one is on, without touching the form check', async () => {
    const { fake, reply } = slowServer();
    const model = await loaded(fake);
    const first = model.ask();
    await settle();
    model.form.setField('coresMax', '0'); // would fail the check
    expect(await model.ask()).toBe(false);
    expect(model.errors.message).toBeNull();
    await reply('own', { answers: [answer('own', 'NO')] });
    expect(await first).toBe(true);
  });
});

describe('accepting and following a session', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    disposeAll();
    vi.useRealTimers();
  });

  it('accepts, follows the new session and polls it until it is over', async () => {
    const phases: ISession[] = [
      session('PREPARING', { progress: 40 }),
      session('FAILED', { progress: 40 })
    ];
    const fake = hubServer()
      .on('POST', 'sessions/own/s-1', () =>
        session('ACCEPTED', { progress: 10 })
      )
      .on('GET', 'sessions/own/s-1', () => phases.shift() ?? session('FAILED'));
    const model = await loaded(fake);
    expect(await model.accept(offer({ hub: 'own', uuid: 's-1' }))).toBe(true);
    expect(fake.calls.find(c => c.method === 'POST')?.body).toEqual({
      action: 'accept'
    });
    expect(model.progress.session?.phase).toBe('ACCEPTED');
    expect(model.progress.polling).toBe(true);
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(model.progress.session?.phase).toBe('PREPARING');
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(model.progress.session?.phase).toBe('FAILED');
    expect(model.progress.polling).toBe(false);
  });

  it('polls slower once the session is available, shows open_url, and stops after a cancel', async () => {
    const ready = session('AVAILABLE', {
      progress: 100,
      open_url: 'http://other/user/a/lab/tree/a.ipynb'
    });
    let current: ISession = session('PREPARING', { progress: 40 });
    const fake = hubServer()
      .on('POST', 'sessions/own/s-1', call => {
        const action = (call.body as { action: string }).action;
        current =
          action === 'accept'
            ? current
            : session('CANCELLED', { progress: 100 });
        return current;
      })
      .on('GET', 'sessions/own/s-1', () => current);
    const model = await loaded(fake);
    await model.accept(offer({ hub: 'own', uuid: 's-1' }));
    current = ready;
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(model.progress.session?.open_url).toBe(
      'http://other/user/a/lab/tree/a.ipynb'
    );
    const polls = fake.count('GET', 'sessions/own/s-1');
    await vi.advanceTimersByTimeAsync(POLL_SLOW_MS - 1);
    expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls + 1);

    expect(await model.cancel()).toBe(true);
    expect(model.progress.session?.phase).toBe('CANCELLED');
    expect(model.progress.polling).toBe(false);
  });

  it('reports a refused accept (409) and does not poll', async () => {
    const fake = hubServer().on('POST', 'sessions/own/s-1', () => {
      throw new APIError(409, 'the offer has expired');
    });
    const model = await loaded(fake);
    expect(await model.accept(offer({ hub: 'own', uuid: 's-1' }))).toBe(false);
    expect(model.errors.message).toBe(
      'Could not accept the offer of own: the offer has expired'
    );
    expect(model.progress.session).toBeNull();
    expect(model.progress.polling).toBe(false);
  });

  it('has nothing to cancel without a session', async () => {
    const model = await loaded(hubServer());
    expect(await model.cancel()).toBe(false);
  });

  it('follows a session from "My sessions" on the Ask tab, and stops polling on dispose', async () => {
    const fake = hubServer()
      .on('GET', 'sessions', () => ({ sessions: [], errors: [] }))
      .on('GET', 'sessions/own/s-1', () => session('PREPARING'));
    const model = await loaded(fake);
    model.tab = 'sessions';
    model.follow(session('PREPARING'));
    expect(model.tab).toBe('ask');
    expect(model.progress.polling).toBe(true);
    model.closeSession();
    expect(model.progress.session).toBeNull();
    expect(model.progress.polling).toBe(false);
    model.follow(session('PREPARING'));
    model.dispose();
    expect(model.progress.polling).toBe(false);
  });
});

describe('my sessions', () => {
  it('lists sessions with per-hub errors when the tab opens, and cancels one', async () => {
    let phase = 'RUNNING';
    const fake = hubServer()
      .on('GET', 'sessions', () => ({
        sessions: [session(phase, { hub: 'astro', uuid: 'x 1' })],
        errors: [{ hub: 'slow', message: 'no answer within 5 s' }]
      }))
      .on('POST', 'sessions/astro/x%201', () => {
        phase = 'CANCELLED';
        return session(phase, { hub: 'astro', uuid: 'x 1' });
      });
    const model = await loaded(fake);
    model.tab = 'sessions';
    await vi.waitFor(() => expect(model.sessions.list).toHaveLength(1));
    expect(model.sessions.hubErrors).toEqual([
      { hub: 'slow', message: 'no answer within 5 s' }
    ]);
    expect(await model.cancel(model.sessions.list[0])).toBe(true);
    expect(model.sessions.list[0].phase).toBe('CANCELLED');
    expect(model.progress.session).toBeNull();
    await vi.waitFor(() => expect(fake.count('GET', 'sessions')).toBe(2));
  });

  it('updates the followed session when it is cancelled from the list', async () => {
    const fake = hubServer()
      .on('GET', 'sessions', () => ({
        sessions: [session('RUNNING')],
        errors: []
      }))
      .on('POST', 'sessions/own/s-1', () => session('CANCELLED'));
    const model = await loaded(fake);
    await model.sessions.load();
    model.follow(model.sessions.list[0]);
    expect(await model.cancel(model.sessions.list[0])).toBe(true);
    expect(model.progress.session?.phase).toBe('CANCELLED');
    expect(model.progress.polling).toBe(false);
  });
});
