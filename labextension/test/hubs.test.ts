import { afterEach, describe, expect, it } from 'vitest';

import { brokerUrl, validateNewHub } from '../src/form';
import { ErrorState } from '../src/model/errors';
import { HubsModel } from '../src/model/hubs';
import { APIError, IHub, RequestFunction, ValidationError } from '../src/types';
import {
  ASTRO,
  emissions,
  disposeAll,
  FakeServer,
  hubServer,
  OWN,
  track
} from './fixtures';

afterEach(disposeAll);

function hubsModel(request: RequestFunction): {
  hubs: HubsModel;
  errors: ErrorState;
} {
  const errors = track(new ErrorState());
  const hubs = track(new HubsModel(request, errors));
  return { hubs, errors };
}

async function loaded(
  fake: FakeServer
): Promise<{ hubs: HubsModel; errors: ErrorState }> {
  const model = hubsModel(fake.request);
  await model.hubs.load();
  return model;
}

describe('broker URLs', () => {
  it.each([
    ['https://h.org', 'https://h.org/services/execplanner/'],
    ['https://h.org/hub/', 'https://h.org/services/execplanner/'],
    [
      'http://127.0.0.1:8000/base/hub',
      'http://127.0.0.1:8000/base/services/execplanner/'
    ],
    ['https://h.org/services/', 'https://h.org/services/execplanner/'],
    ['https://h.org/services/other', 'https://h.org/services/other/'],
    ['ftp://h.org/', null],
    ['nope', null]
  ])('%s → %s (as the server computes it)', (url, broker) => {
    expect(brokerUrl(url)).toBe(broker);
  });
});

describe('hubs', () => {
  it("lists the hubs with the own hub ticked, and keeps the user's choice on reload", async () => {
    const { hubs } = await loaded(hubServer());
    expect(hubs.list.map(h => h.name)).toEqual(['own', 'astro']);
    expect(hubs.selected).toEqual(['own']);
    expect(hubs.isSelected('own')).toBe(true);
    hubs.setSelected('own', false);
    hubs.setSelected('astro', true);
    await hubs.load();
    expect(hubs.selected).toEqual(['astro']);
  });

  it('is loading while the list is fetched, and emits before and after', async () => {
    const { hubs } = hubsModel(hubServer().request);
    const changes = emissions(hubs.changed);
    const done = hubs.load();
    expect(hubs.loading).toBe(true);
    await done;
    expect(hubs.loading).toBe(false);
    expect(changes.count).toBe(2);
  });

  it.each([
    [
      { name: '', url: 'https://x.org/', token: 't' },
      /^Name: enter a short name/
    ],
    [
      { name: 'a/b', url: 'https://x.org/', token: 't' },
      /^Name: use at most 64 letters/
    ],
    [
      { name: 'own', url: 'https://x.org/', token: 't' },
      /"own" is your own hub/
    ],
    [
      { name: 'x', url: 'hub.example.org', token: 't' },
      /^Hub URL: enter the hub's address/
    ],
    [
      { name: 'x', url: 'ftp://hub.example.org/', token: 't' },
      /^Hub URL: must start with https/
    ],
    [
      { name: 'x', url: 'https://hub.example.org/', token: '  ' },
      /token: paste an API token/
    ]
  ])(
    'refuses a bad new hub %o without calling the server',
    async (hub, pattern) => {
      expect(() => validateNewHub(hub, [OWN])).toThrow(ValidationError);
      expect(() => validateNewHub(hub, [OWN])).toThrow(pattern);
      const fake = hubServer();
      const { hubs, errors } = await loaded(fake);
      expect(await hubs.add(hub)).toBe(false);
      expect(errors.message).toMatch(pattern);
      expect(fake.count('POST', 'hubs')).toBe(0);
    }
  );

  it("adds a hub (trimmed) and reloads the list; shows the server's refusal", async () => {
    const list = [OWN];
    const fake = hubServer(list).on('POST', 'hubs', call => {
      const body = call.body as { name: string; url: string; token: string };
      if (body.name === 'refused') {
        throw new APIError(400, 'url: not an execution broker');
      }
      const hub = {
        name: body.name,
        url: body.url,
        own: false,
        has_token: true
      };
      list.push(hub);
      return hub;
    });
    const { hubs, errors } = await loaded(fake);
    expect(
      await hubs.add({
        name: ' astro ',
        url: ' https://astro.example.org/ ',
        token: 'secret'
      })
    ).toBe(true);
    expect(fake.calls.find(c => c.method === 'POST')?.body).toEqual({
      name: 'astro',
      url: 'https://astro.example.org/',
      token: 'secret'
    });
    expect(hubs.list.map(h => h.name)).toEqual(['own', 'astro']);
    // the hub added is ticked, so that the next Ask asks it
    expect(hubs.selected).toEqual(['own', 'astro']);
    expect(errors.message).toBeNull();

    expect(
      await hubs.add({
        name: 'refused',
        url: 'https://nope.example.org/',
        token: 't'
      })
    ).toBe(false);
    expect(errors.message).toBe(
      'Could not add hub "refused": url: not an execution broker'
    );
  });

  it("says whose token it is, shows the check's problem by its field, and may add unchecked", async () => {
    const list = [OWN];
    const fake = hubServer(list).on('POST', 'hubs', call => {
      const body = call.body as {
        name: string;
        url: string;
        token: string;
        check?: boolean;
      };
      if (body.token === 'bad') {
        throw new APIError(400, 'token: the hub refused it', 'token');
      }
      if (body.url.includes('down') && body.check !== false) {
        throw new APIError(400, 'url: cannot reach https://down/', 'url');
      }
      const hub = {
        name: body.name,
        url: body.url,
        own: false,
        has_token: true
      };
      list.push(hub);
      return { ...hub, user: body.check === false ? null : 'alice' };
    });
    const { hubs, errors } = await loaded(fake);
    const hub = { name: 'b', url: 'https://b.example.org/', token: 'bad' };
    expect(await hubs.add(hub)).toBe(false);
    expect(hubs.addProblems).toEqual({ token: 'token: the hub refused it' });
    expect(hubs.unreachable).toBe(false);
    // changing the field takes its problem away, and the error line that said it
    hubs.clearProblem('token');
    expect(hubs.addProblems).toEqual({});
    expect(errors.message).toBeNull();
    expect(await hubs.add({ ...hub, token: 'good' })).toBe(true);
    expect(hubs.connected).toBe('b: connected as alice');
    expect(hubs.addProblems).toEqual({});

    const down = { name: 'd', url: 'https://down.example.org/', token: 't' };
    expect(await hubs.add(down)).toBe(false);
    expect(hubs.unreachable).toBe(true);
    expect(await hubs.add(down, false)).toBe(true);
    expect(fake.calls.at(-2)?.body).toMatchObject({ check: false });
    expect(hubs.connected).toMatch(/^d: added without a check/);
    expect(hubs.selected).toEqual(['own', 'b', 'd']);
  });

  it('refuses the same hub twice, whatever URL form names it, and lists every problem', () => {
    const b = {
      name: 'b',
      url: 'https://b.example.org/services/execplanner/',
      own: false,
      has_token: true
    };
    const own = { ...OWN, url: 'https://a.example.org/services/execplanner/' };
    for (const url of [
      'https://b.example.org',
      'https://b.example.org/hub/',
      'https://b.example.org/services/execplanner'
    ]) {
      expect(() =>
        validateNewHub({ name: 'b2', url, token: 't' }, [own, b])
      ).toThrow('Hub URL: this hub is already in the list, as "b"');
    }
    expect(() =>
      validateNewHub({ name: 'x', url: 'https://a.example.org/', token: 't' }, [
        own,
        b
      ])
    ).toThrow(/your own hub/);
    // the same name replaces the hub (a new token): not a duplicate
    expect(
      validateNewHub({ name: 'b', url: 'https://b.example.org/', token: 't' }, [
        own,
        b
      ]).name
    ).toBe('b');
    try {
      validateNewHub({ name: '', url: 'nope', token: '' }, [own]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect(Object.keys((error as ValidationError).fields)).toEqual([
        'name',
        'url',
        'token'
      ]);
    }
  });

  it('removes a hub by its encoded name', async () => {
    let list: IHub[] = [OWN, ASTRO, { ...ASTRO, name: 'a b' }];
    const fake = new FakeServer()
      .on('GET', 'hubs', () => ({ hubs: list }))
      .on('DELETE', 'hubs/astro', () => {
        list = list.filter(h => h.name !== 'astro');
        return undefined;
      })
      .on('DELETE', 'hubs/a%20b', () => {
        list = list.filter(h => h.name !== 'a b');
        return undefined;
      });
    const { hubs, errors } = await loaded(fake);
    hubs.setSelected('astro', true);
    await hubs.remove('astro');
    expect(hubs.list.map(h => h.name)).toEqual(['own', 'a b']);
    expect(hubs.selected).toEqual(['own']);
    await hubs.remove('a b');
    expect(hubs.list.map(h => h.name)).toEqual(['own']);
    await hubs.remove('gone');
    expect(errors.message).toMatch(/Could not remove hub "gone"/);
  });

  it('forgets the tick of a hub gone from the list', async () => {
    let list = [OWN, ASTRO];
    const { hubs } = await loaded(
      new FakeServer().on('GET', 'hubs', () => ({ hubs: list }))
    );
    hubs.setSelected('astro', true);
    list = [OWN];
    await hubs.load();
    expect(hubs.selected).toEqual(['own']);
    list = [OWN, ASTRO];
    await hubs.load();
    expect(hubs.isSelected('astro')).toBe(false);
  });

  it('says clearly when the server extension is missing', async () => {
    const { hubs, errors } = hubsModel(async () => {
      throw new APIError(
        404,
        'The execplanner server extension is not available on this Jupyter server'
      );
    });
    await hubs.load();
    expect(hubs.list).toEqual([]);
    expect(errors.message).toMatch(/server extension is not available/);
    expect(hubs.loading).toBe(false);
  });
});
