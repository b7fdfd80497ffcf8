import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  buildAskBody,
  DEFAULTS,
  ExecPlannerModel,
  formFromDefaults,
  nextPollDelay,
  POLL_FAST_MS,
  POLL_SLOW_MS,
  validateNewHub,
  ValidationError
} from '../src/model';
import { APIError, IHub, ISession } from '../src/types';
import { answer, FakeServer, iso, offer, session } from './fixtures';

const OWN: IHub = { name: 'own', url: 'http://127.0.0.1:8000/services/execplanner/', own: true, has_token: true };
const ASTRO: IHub = { name: 'astro', url: 'https://astro.example.org/services/execplanner/', own: false, has_token: true };

function server(hubs: IHub[] = [OWN, ASTRO]): FakeServer {
  return new FakeServer().on('GET', 'hubs', () => ({ hubs }));
}

async function loaded(fake: FakeServer, path = 'work/analysis.ipynb'): Promise<ExecPlannerModel> {
  const model = new ExecPlannerModel(fake.request);
  model.path = path;
  await model.loadHubs();
  return model;
}

describe('the request form', () => {
  it('starts from the settings defaults', () => {
    const model = new ExecPlannerModel(new FakeServer().request);
    expect(model.form).toMatchObject({
      coresMin: '1',
      coresMax: '2',
      memoryMin: '1',
      memoryMax: '2',
      gpus: '0',
      durationMinutes: '60',
      timeout: '5',
      startEarliest: '',
      startLatest: ''
    });
  });

  it('builds the ask body in seconds and ISO times', () => {
    const form = { ...formFromDefaults(DEFAULTS), startEarliest: '2026-11-24T18:30', gpus: '1' };
    const body = buildAskBody(form, ['own', 'astro'], 'a.ipynb');
    expect(body).toMatchObject({
      hubs: ['own', 'astro'],
      path: 'a.ipynb',
      cores: { min: 1, max: 2 },
      memory: { min: 1, max: 2 },
      gpus: 1,
      duration: 3600,
      timeout: 5
    });
    expect(body.start?.earliest).toBe(new Date('2026-11-24T18:30').toISOString());
    expect(body.start?.latest).toBeNull();
    expect(buildAskBody(formFromDefaults(DEFAULTS), ['own'], 'a.ipynb').start).toBeUndefined();
  });

  it.each([
    [{ coresMin: 'x' }, /cores min: enter a number/],
    [{ coresMin: '3', coresMax: '2' }, /cores max: must be at least cores min/],
    [{ coresMin: '1.5' }, /cores min: enter a whole number/],
    [{ memoryMin: '4', memoryMax: '2' }, /memory max \(GiB\)/],
    [{ memoryMin: '1.5' }, /memory min \(GiB\): enter a whole number/],
    [{ gpus: '-1' }, /GPUs: must be at least 0/],
    [{ durationMinutes: '0' }, /duration \(minutes\)/],
    [{ startEarliest: '2026-11-24T18:30', startLatest: '2026-11-24T17:00' }, /start latest: must not be before/]
  ])('names the field of a bad value %o', (change, pattern) => {
    const form = { ...formFromDefaults(DEFAULTS), ...change };
    expect(() => buildAskBody(form, ['own'], 'a.ipynb')).toThrow(pattern);
  });

  it('needs a hub and a notebook', () => {
    const form = formFromDefaults(DEFAULTS);
    expect(() => buildAskBody(form, [], 'a.ipynb')).toThrow(/hubs: tick at least one hub/);
    expect(() => buildAskBody(form, ['own'], '')).toThrow(/notebook: none chosen/);
  });

  it('new defaults replace only the fields the user left alone', () => {
    const model = new ExecPlannerModel(new FakeServer().request);
    model.setField('coresMin', '4');
    model.setDefaults({ ...DEFAULTS, coresMin: 2, durationMinutes: 120 });
    expect(model.form.coresMin).toBe('4');
    expect(model.form.durationMinutes).toBe('120');
  });
});

describe('hubs', () => {
  it('lists the hubs with the own hub ticked, and keeps the user\'s choice on reload', async () => {
    const fake = server();
    const model = await loaded(fake);
    expect(model.hubs.map(h => h.name)).toEqual(['own', 'astro']);
    expect(model.selectedHubs).toEqual(['own']);
    model.setSelected('own', false);
    model.setSelected('astro', true);
    await model.loadHubs();
    expect(model.selectedHubs).toEqual(['astro']);
  });

  it.each([
    [{ name: '', url: 'https://x.org/', token: 't' }, /name: enter a short name/],
    [{ name: 'a/b', url: 'https://x.org/', token: 't' }, /name: use at most 64 characters/],
    [{ name: 'own', url: 'https://x.org/', token: 't' }, /"own" is your own hub/],
    [{ name: 'x', url: 'hub.example.org', token: 't' }, /broker URL: enter the hub's URL/],
    [{ name: 'x', url: 'ftp://hub.example.org/', token: 't' }, /broker URL: must start with https/],
    [{ name: 'x', url: 'https://hub.example.org/', token: '  ' }, /token: paste an API token/]
  ])('refuses a bad new hub %o without calling the server', async (hub, pattern) => {
    expect(() => validateNewHub(hub, [OWN])).toThrow(ValidationError);
    expect(() => validateNewHub(hub, [OWN])).toThrow(pattern);
    const fake = server();
    const model = await loaded(fake);
    expect(await model.addHub(hub)).toBe(false);
    expect(model.error).toMatch(pattern);
    expect(fake.count('POST', 'hubs')).toBe(0);
  });

  it('adds a hub (trimmed) and reloads the list; shows the server\'s refusal', async () => {
    const hubs = [OWN];
    const fake = server(hubs).on('POST', 'hubs', call => {
      const body = call.body as { name: string; url: string; token: string };
      if (body.name === 'refused') {
        throw new APIError(400, 'url: not an execution broker');
      }
      const hub = { name: body.name, url: body.url, own: false, has_token: true };
      hubs.push(hub);
      return hub;
    });
    const model = await loaded(fake);
    expect(await model.addHub({ name: ' astro ', url: ' https://astro.example.org/ ', token: 'secret' })).toBe(true);
    expect(fake.calls.find(c => c.method === 'POST')?.body).toEqual({
      name: 'astro',
      url: 'https://astro.example.org/',
      token: 'secret'
    });
    expect(model.hubs.map(h => h.name)).toEqual(['own', 'astro']);
    expect(model.selectedHubs).toEqual(['own']);
    expect(model.error).toBeNull();

    expect(await model.addHub({ name: 'refused', url: 'https://nope.example.org/', token: 't' })).toBe(false);
    expect(model.error).toBe('Could not add hub "refused": url: not an execution broker');
  });

  it('removes a hub by its encoded name', async () => {
    let hubs = [OWN, ASTRO];
    const fake = new FakeServer()
      .on('GET', 'hubs', () => ({ hubs }))
      .on('DELETE', 'hubs/astro', () => {
        hubs = [OWN];
        return undefined;
      });
    const model = await loaded(fake);
    model.setSelected('astro', true);
    await model.removeHub('astro');
    expect(model.hubs.map(h => h.name)).toEqual(['own']);
    expect(model.selectedHubs).toEqual(['own']);
    await model.removeHub('gone');
    expect(model.error).toMatch(/Could not remove hub "gone"/);
  });

  it('says clearly when the server extension is missing', async () => {
    const model = new ExecPlannerModel(async () => {
      throw new APIError(404, 'The execplanner server extension is not available on this Jupyter server');
    });
    await model.loadHubs();
    expect(model.hubs).toEqual([]);
    expect(model.error).toMatch(/server extension is not available/);
    expect(model.loadingHubs).toBe(false);
  });
});

/** A promise with its resolve and reject at hand: one hub's answer, arriving when the test says. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let every settled promise's callbacks run (the model's awaits). */
async function settle(): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0));
}

const HUNG: IHub = { name: 'hung', url: 'http://127.0.0.1:9/services/execplanner/', own: false, has_token: true };
const REQUEST = { name: 'analysis', executable: { location: 'http://own/snapshots/T/analysis.ipynb' } };

/**
 * A fake server whose `POST ask` for each hub waits until the test answers it: `pending[hub]` is a
 * list of deferred answers, one per call, in the order the calls came.
 */
function slowServer(hubs: IHub[] = [OWN, ASTRO, HUNG]) {
  const pending = new Map<string, ReturnType<typeof deferred<unknown>>[]>();
  const fake = server(hubs)
    .on('POST', 'prepare', () => ({ request: REQUEST }))
    .on('POST', 'ask', call => {
      const hub = (call.body as { hubs: string[] }).hubs[0];
      const d = deferred<unknown>();
      pending.set(hub, [...(pending.get(hub) ?? []), d]);
      return d.promise;
    });
  /** Answer the `n`th call (default: the last) to `hub` with its answer. */
  const reply = async (hub: string, body: unknown, n = -1): Promise<void> => {
    const calls = pending.get(hub) ?? [];
    const d = calls[n < 0 ? calls.length + n : n];
    if (!d) {
      throw new Error(`no ask for ${hub} yet`);
    }
    d.resolve(body);
    await settle();
  };
  return { fake, pending, reply };
}

describe('asking', () => {
  it('prepares once, then asks every ticked hub on its own with the prepared request', async () => {
    const { fake, reply } = slowServer();
    const model = await loaded(fake);
    model.setSelected('astro', true);
    model.setSelected('hung', true);
    const done = model.ask();
    await settle();
    expect(fake.count('POST', 'prepare')).toBe(1);
    const prepare = fake.calls.find(c => c.endPoint === 'prepare')?.body as Record<string, unknown>;
    expect(prepare).toMatchObject({ path: 'work/analysis.ipynb', duration: 3600, cores: { min: 1, max: 2 }, timeout: 5 });
    expect(prepare).not.toHaveProperty('hubs');
    const asks = fake.calls.filter(c => c.endPoint === 'ask').map(c => c.body);
    expect(asks).toEqual([
      { hubs: ['own'], request: REQUEST, timeout: 5 },
      { hubs: ['astro'], request: REQUEST, timeout: 5 },
      { hubs: ['hung'], request: REQUEST, timeout: 5 }
    ]);
    for (const hub of ['own', 'astro', 'hung']) {
      await reply(hub, { answers: [answer(hub, 'NO', { messages: ['too big'] })] });
    }
    expect(await done).toBe(true);
    expect(fake.count('POST', 'prepare')).toBe(1);
  });

  it('shows each answer as it arrives, in the order asked, the others still asking', async () => {
    const { fake, reply } = slowServer();
    const model = await loaded(fake);
    model.setSelected('astro', true);
    model.setSelected('hung', true);
    let changes = 0;
    model.changed.connect(() => (changes += 1));
    const done = model.ask();
    let finished = false;
    void done.then(() => (finished = true));
    await settle();
    expect(model.asking).toBe(true);
    expect(model.askStarted).not.toBeNull();
    expect(model.answerRows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'asking'],
      ['astro', 'asking'],
      ['hung', 'asking']
    ]);
    expect(model.offers).toEqual([]);

    // astro answers first: its offers are in while own and hung are still asked
    const before = changes;
    await reply('astro', {
      answers: [answer('astro', 'YES', { offers: [offer({ hub: 'astro', uuid: 'a-big', cores: 4, start: iso(900) })] })]
    });
    expect(changes).toBeGreaterThan(before);
    expect(model.answerRows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'asking'],
      ['astro', 'YES'],
      ['hung', 'asking']
    ]);
    expect(model.offers.map(o => o.uuid)).toEqual(['a-big']);
    expect(model.asking).toBe(true);
    expect(finished).toBe(false);

    // then own: both hubs' offers, sortable while hung is still asked
    await reply('own', {
      answers: [answer('own', 'YES', { offers: [offer({ hub: 'own', uuid: 'o-small', cores: 1, start: iso(0) })] })]
    });
    expect(model.answers.map(a => a.hub)).toEqual(['own', 'astro']);
    expect(model.offers.map(o => o.uuid)).toEqual(['o-small', 'a-big']);
    model.sortKey = 'cores';
    expect(model.offers.map(o => o.uuid)).toEqual(['a-big', 'o-small']);
    expect(model.answerRows[2]).toMatchObject({ hub: 'hung', status: 'asking', summary: 'asking…' });
    expect(model.asking).toBe(true);

    // hung times out at last: the others' offers stay, and asking is over
    await reply('hung', { answers: [answer('hung', 'timeout', { seconds: 5, messages: ['timed out after 5 s'] })] });
    expect(await done).toBe(true);
    expect(model.asking).toBe(false);
    expect(model.answerRows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'YES'],
      ['astro', 'YES'],
      ['hung', 'timeout']
    ]);
    expect(model.answerRows[2].summary).toBe('no answer within 5.00 s');
    expect(model.offers.map(o => o.uuid)).toEqual(['a-big', 'o-small']);
  });

  it('drops the late answers of an ask the user has left, and asks again', async () => {
    const { fake, reply } = slowServer();
    fake.on('POST', 'sessions/own/o-1', () => session('ACCEPTED', { uuid: 'o-1' }));
    const model = await loaded(fake);
    model.setSelected('hung', true);
    const first = model.ask();
    await settle();
    await reply('own', { answers: [answer('own', 'YES', { offers: [offer({ hub: 'own', uuid: 'o-1' })] })] });
    // she accepts own's offer while hung is still asked: the ask is over for her
    expect(await model.accept(model.offers[0])).toBe(true);
    expect(model.asking).toBe(false);
    model.closeSession();
    expect(model.answerRows).toEqual([]);

    // a new ask; then the first ask's hung hub times out: its answer is not shown
    const second = model.ask();
    await settle();
    expect(fake.count('POST', 'prepare')).toBe(2);
    await reply('hung', { answers: [answer('hung', 'timeout')] }, 0);
    expect(await first).toBe(false);
    expect(model.answerRows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'asking'],
      ['hung', 'asking']
    ]);
    await reply('own', { answers: [answer('own', 'NO', { messages: ['full'] })] }, 1);
    await reply('hung', { answers: [answer('hung', 'YES', { offers: [offer({ hub: 'hung', uuid: 'h-1' })] })] }, 1);
    expect(await second).toBe(true);
    expect(model.answerRows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'NO'],
      ['hung', 'YES']
    ]);
    expect(model.offers.map(o => o.uuid)).toEqual(['h-1']);
  });

  it('drops the late answers of an ask for another notebook', async () => {
    const { fake, reply } = slowServer();
    const model = await loaded(fake);
    const first = model.ask();
    await settle();
    model.path = 'other.ipynb';
    expect(model.asking).toBe(false);
    await reply('own', { answers: [answer('own', 'YES', { offers: [offer()] })] });
    expect(await first).toBe(false);
    expect(model.answers).toEqual([]);
    expect(model.offers).toEqual([]);
  });

  it("makes a failed hub's call that hub's error row; a failed prepare asks no hub", async () => {
    const { fake, pending } = slowServer();
    const model = await loaded(fake);
    model.setSelected('astro', true);
    const done = model.ask();
    await settle();
    pending.get('astro')?.[0].reject(new APIError(502, 'astro: connection refused'));
    pending.get('own')?.[0].resolve({ answers: [] }); // an answer without this hub's
    expect(await done).toBe(true);
    expect(model.answerRows.map(r => [r.hub, r.status, r.messages])).toEqual([
      ['own', 'error', ['the server sent no answer for this hub']],
      ['astro', 'error', ['astro: connection refused']]
    ]);
    expect(model.error).toBeNull();

    fake.on('POST', 'prepare', () => {
      throw new APIError(404, 'path: there is no notebook');
    });
    expect(await model.ask()).toBe(false);
    expect(model.error).toBe('Asking failed: path: there is no notebook');
    expect(model.asking).toBe(false);
    expect(model.answerRows).toEqual([]);
    expect(fake.count('POST', 'ask')).toBe(2);
  });

  it('does not call the server for a bad form', async () => {
    const { fake } = slowServer();
    const model = await loaded(fake);
    model.setField('coresMax', '0');
    expect(await model.ask()).toBe(false);
    expect(model.error).toMatch(/cores max/);
    expect(fake.count('POST', 'prepare') + fake.count('POST', 'ask')).toBe(0);
  });

  it('is busy while asking and refuses a second ask meanwhile', async () => {
    const { fake, reply } = slowServer();
    const model = await loaded(fake);
    const first = model.ask();
    await settle();
    expect(model.asking).toBe(true);
    expect(await model.ask()).toBe(false);
    await reply('own', { answers: [answer('own', 'NO')] });
    expect(await first).toBe(true);
    expect(model.asking).toBe(false);
    expect(fake.count('POST', 'prepare')).toBe(1);
    expect(fake.count('POST', 'ask')).toBe(1);
  });

  it('still reads a whole answer of the old single ask (another server version)', async () => {
    // a server that answers every ask with all hubs: each hub's call picks its own answer
    const fake = server()
      .on('POST', 'prepare', () => ({ request: REQUEST }))
      .on('POST', 'ask', () => ({
        answers: [
          answer('own', 'YES', { offers: [offer({ uuid: 'late', start: iso(600) }), offer({ uuid: 'soon' })] }),
          answer('astro', 'NO', { messages: ['too big'] })
        ]
      }));
    const model = await loaded(fake);
    model.setSelected('astro', true);
    expect(await model.ask()).toBe(true);
    expect(model.answerRows.map(r => r.status)).toEqual(['YES', 'NO']);
    expect(model.offers.map(o => o.uuid)).toEqual(['soon', 'late']);
  });
});

describe('progress polling', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('chooses the delay from the phase', () => {
    expect(nextPollDelay(session('ACCEPTED'))).toBe(POLL_FAST_MS);
    expect(nextPollDelay(session('PREPARING'))).toBe(POLL_FAST_MS);
    expect(nextPollDelay(session('AVAILABLE'))).toBe(POLL_SLOW_MS);
    expect(nextPollDelay(session('RUNNING'))).toBe(POLL_SLOW_MS);
    for (const phase of ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED']) {
      expect(nextPollDelay(session(phase))).toBeNull();
    }
  });

  it.each(['FAILED', 'CANCELLED', 'COMPLETED'])(
    'accepts, polls every second while preparing, and stops at %s',
    async terminal => {
      const phases: ISession[] = [
        session('PREPARING', { progress: 40, messages: ['installing numpy'] }),
        session('PREPARING', { progress: 60 }),
        session(terminal, { progress: 60, messages: ['the end'] })
      ];
      const fake = server()
        .on('POST', 'sessions/own/s-1', () => session('ACCEPTED', { progress: 10 }))
        .on('GET', 'sessions/own/s-1', () => phases.shift() ?? session(terminal));
      const model = await loaded(fake);
      expect(await model.accept(offer({ hub: 'own', uuid: 's-1' }))).toBe(true);
      expect(fake.calls.find(c => c.method === 'POST')?.body).toEqual({ action: 'accept' });
      expect(model.session?.phase).toBe('ACCEPTED');
      expect(model.polling).toBe(true);

      await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
      expect(model.session?.phase).toBe('PREPARING');
      expect(model.session?.messages).toEqual(['installing numpy']);
      await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
      expect(model.session?.progress).toBe(60);
      await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
      expect(model.session?.phase).toBe(terminal);
      expect(model.polling).toBe(false);
      const polls = fake.count('GET', 'sessions/own/s-1');
      expect(polls).toBe(3);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls);
    }
  );

  it('polls slower once the session is available, shows open_url, and stops after a cancel', async () => {
    const ready = session('AVAILABLE', { progress: 100, open_url: 'http://other/user/a/lab/tree/a.ipynb' });
    let current: ISession = session('PREPARING', { progress: 40 });
    const fake = server()
      .on('POST', 'sessions/own/s-1', call => {
        const action = (call.body as { action: string }).action;
        current = action === 'accept' ? current : session('CANCELLED', { progress: 100 });
        return current;
      })
      .on('GET', 'sessions/own/s-1', () => current);
    const model = await loaded(fake);
    await model.accept(offer({ hub: 'own', uuid: 's-1' }));
    current = ready;
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(model.session?.open_url).toBe('http://other/user/a/lab/tree/a.ipynb');
    const polls = fake.count('GET', 'sessions/own/s-1');
    await vi.advanceTimersByTimeAsync(POLL_SLOW_MS - 1);
    expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls + 1);

    expect(await model.cancel()).toBe(true);
    expect(model.session?.phase).toBe('CANCELLED');
    expect(model.polling).toBe(false);
  });

  it('keeps polling through a failed poll, stops when the session is gone, and on dispose', async () => {
    let fail: APIError | null = new APIError(502, 'broker unreachable');
    const fake = server()
      .on('POST', 'sessions/own/s-1', () => session('ACCEPTED'))
      .on('GET', 'sessions/own/s-1', () => {
        if (fail) {
          throw fail;
        }
        return session('PREPARING');
      });
    const model = await loaded(fake);
    await model.accept(offer({ hub: 'own', uuid: 's-1' }));
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(model.pollError).toBe('broker unreachable');
    expect(model.polling).toBe(true);
    fail = null;
    await vi.advanceTimersByTimeAsync(POLL_SLOW_MS);
    expect(model.pollError).toBeNull();
    expect(model.session?.phase).toBe('PREPARING');
    fail = new APIError(404, 'no such session');
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(model.polling).toBe(false);

    fail = null;
    model.follow(session('PREPARING'));
    expect(model.polling).toBe(true);
    model.dispose();
    expect(model.polling).toBe(false);
  });

  it('reports a refused accept (409) and does not poll', async () => {
    const fake = server().on('POST', 'sessions/own/s-1', () => {
      throw new APIError(409, 'the offer has expired');
    });
    const model = await loaded(fake);
    expect(await model.accept(offer({ hub: 'own', uuid: 's-1' }))).toBe(false);
    expect(model.error).toBe('Could not accept the offer of own: the offer has expired');
    expect(model.session).toBeNull();
    expect(model.polling).toBe(false);
  });
});

describe('my sessions', () => {
  it('lists sessions with per-hub errors when the tab opens, and cancels one', async () => {
    let phase = 'RUNNING';
    const fake = server()
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
    await vi.waitFor(() => expect(model.sessions).toHaveLength(1));
    expect(model.sessionErrors).toEqual([{ hub: 'slow', message: 'no answer within 5 s' }]);
    expect(await model.cancel(model.sessions[0])).toBe(true);
    expect(model.sessions[0].phase).toBe('CANCELLED');
    expect(model.session).toBeNull();
    await vi.waitFor(() => expect(fake.count('GET', 'sessions')).toBe(2));
  });

  it('emits changed on updates', async () => {
    const model = new ExecPlannerModel(server().request);
    let changes = 0;
    model.changed.connect(() => (changes += 1));
    model.setField('gpus', '1');
    model.sortKey = 'cost';
    expect(changes).toBe(2);
  });
});
