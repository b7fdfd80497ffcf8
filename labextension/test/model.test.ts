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

describe('asking', () => {
  it('sends the form to the ticked hubs and shows every answer and all offers sorted', async () => {
    const fake = server().on('POST', 'ask', () => ({
      answers: [
        answer('own', 'YES', { offers: [offer({ uuid: 'late', start: iso(600) }), offer({ uuid: 'soon' })] }),
        answer('astro', 'NO', { messages: ['too big'] })
      ]
    }));
    const model = await loaded(fake);
    model.setSelected('astro', true);
    expect(await model.ask()).toBe(true);
    const sent = fake.calls.find(c => c.endPoint === 'ask')?.body;
    expect(sent).toMatchObject({ hubs: ['own', 'astro'], path: 'work/analysis.ipynb', duration: 3600 });
    expect(model.answerRows.map(r => r.status)).toEqual(['YES', 'NO']);
    expect(model.offers.map(o => o.uuid)).toEqual(['soon', 'late']);
    expect(model.asking).toBe(false);
  });

  it('does not call the server for a bad form, and reports a failed ask', async () => {
    const fake = server().on('POST', 'ask', () => {
      throw new APIError(400, 'path: no such notebook');
    });
    const model = await loaded(fake);
    model.setField('coresMax', '0');
    expect(await model.ask()).toBe(false);
    expect(model.error).toMatch(/cores max/);
    expect(fake.count('POST', 'ask')).toBe(0);
    model.setField('coresMax', '2');
    expect(await model.ask()).toBe(false);
    expect(model.error).toBe('Asking failed: path: no such notebook');
  });

  it('is busy while asking and refuses a second ask meanwhile', async () => {
    let release: (value: unknown) => void = () => undefined;
    const fake = server().on('POST', 'ask', () => new Promise(resolve => (release = resolve)));
    const model = await loaded(fake);
    const first = model.ask();
    await Promise.resolve();
    expect(model.asking).toBe(true);
    expect(await model.ask()).toBe(false);
    release({ answers: [] });
    expect(await first).toBe(true);
    expect(model.asking).toBe(false);
    expect(fake.count('POST', 'ask')).toBe(1);
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
