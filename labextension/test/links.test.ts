import { afterEach, describe, expect, it, vi } from 'vitest';

import { validateNewHub } from '../src/form';
import { ExecPlannerModel } from '../src/model';
import { ErrorState } from '../src/model/errors';
import { HubsModel, LINK_POLL_LIMIT_MS, LINK_POLL_MS } from '../src/model/hubs';
import {
  canAsk,
  hubKind,
  httpUrl,
  LINK_WINDOW,
  linkMessage,
  linkOf,
  linkState,
  linkView
} from '../src/model/links';
import { answerRows } from '../src/offers';
import { APIError, IHub, LinkState } from '../src/types';
import {
  answer,
  ASTRO,
  disposeAll,
  FakeServer,
  offer,
  OWN,
  REQUEST,
  session,
  track
} from './fixtures';

afterEach(disposeAll);

const ORIGIN = 'http://127.0.0.1:8000';
const OWN_KIND: IHub = { ...OWN, kind: 'own', link: null };

function peer(state: LinkState, fields: Partial<IHub> = {}): IHub {
  return {
    name: 'hub-b',
    url: `${ORIGIN}/services/execplanner/peers/hub-b/`,
    own: false,
    has_token: true,
    kind: 'linked',
    link: {
      state,
      user: state === 'linked' ? 'alice-b' : null,
      authorize: `${ORIGIN}/services/execplanner/links/hub-b/authorize`,
      expires_at: null,
      message: null,
      url: 'http://localhost:8001/services/execplanner/'
    },
    ...fields
  };
}

/** A fake server whose hub list is whatever `state.hubs` is when asked. */
function linksServer(hubs: IHub[]): {
  fake: FakeServer;
  state: { hubs: IHub[] };
} {
  const state = { hubs };
  const fake = new FakeServer().on('GET', 'hubs', () => ({ hubs: state.hubs }));
  return { fake, state };
}

function hubsModel(fake: FakeServer): { hubs: HubsModel; errors: ErrorState } {
  const errors = track(new ErrorState());
  const hubs = track(new HubsModel(fake.request, errors));
  return { hubs, errors };
}

describe('what a hub row shows about its link', () => {
  it('tells the kinds apart (an older server says only own)', () => {
    expect(hubKind(OWN)).toBe('own');
    expect(hubKind(ASTRO)).toBe('added');
    expect(hubKind(peer('linked'))).toBe('linked');
    expect(linkState(ASTRO)).toBeNull();
    expect(linkState(peer('linked', { link: null }))).toBe('unlinked');
  });

  it.each([
    [
      'unlinked',
      'not linked',
      'link',
      'Link account',
      'Link account on hub-b',
      false
    ],
    [
      'expired',
      'link expired or revoked',
      'link',
      'Link again',
      'Link again on hub-b',
      false
    ],
    ['linked', 'linked as alice-b', 'unlink', 'Unlink', 'Unlink hub-b', true]
  ] as const)(
    '%s: "%s" and a %s button',
    (state, text, action, label, aria, askable) => {
      const view = linkView(peer(state));
      expect(view).toMatchObject({ state, text, action, label, enabled: true });
      expect(view?.ariaLabel).toBe(aria);
      expect(view?.ariaLabel).toContain(label); // the accessible name has the visible label
      expect(canAsk(peer(state))).toBe(askable);
    }
  );

  it('has no link button for the own or an added hub, and none that opens a script', () => {
    expect(linkView(OWN_KIND)).toBeNull();
    expect(linkView(ASTRO)).toBeNull();
    for (const authorize of [
      'javascript:alert(1)',
      'data:text/html,x',
      '',
      null
    ]) {
      const hub = peer('unlinked');
      const view = linkView({ ...hub, link: { ...hub.link!, authorize } });
      expect(view?.enabled).toBe(false);
    }
    expect(httpUrl('https://h.org/x')).toBe('https://h.org/x');
    expect(httpUrl('JavaScript:alert(1)')).toBeNull();
  });

  it('reads only the link page messages of its own origin', () => {
    const data = { execplanner: 'linked', hub: 'hub-b', user: 'alice-b' };
    expect(linkMessage(data, ORIGIN, ORIGIN)).toEqual({
      event: 'linked',
      hub: 'hub-b',
      user: 'alice-b',
      message: null
    });
    expect(linkMessage(data, 'http://evil.example.org', ORIGIN)).toBeNull();
    expect(linkMessage({ execplanner: 'other' }, ORIGIN, ORIGIN)).toBeNull();
    expect(linkMessage('linked', ORIGIN, ORIGIN)).toBeNull();
    expect(linkMessage(null, ORIGIN, ORIGIN)).toBeNull();
    expect(
      linkMessage(
        { execplanner: 'link-failed', hub: 7, message: 'denied' },
        ORIGIN,
        ORIGIN
      )
    ).toEqual({
      event: 'link-failed',
      hub: null,
      user: null,
      message: 'denied'
    });
  });

  it('reads a "link again" answer or failure, and nothing else', () => {
    expect(linkOf({ link: 'expired' })).toBe('expired');
    expect(linkOf({ link: 'unlinked' })).toBe('unlinked');
    expect(linkOf({ link: 'linked' })).toBeNull();
    expect(linkOf({ status: 409 })).toBeNull();
    expect(linkOf(undefined)).toBeNull();
    const rows = answerRows([
      answer('hub-b', 'error', { link: 'expired', messages: ['link again'] }),
      answer('own', 'YES', { offers: [offer()] })
    ]);
    expect(rows.map(r => [r.hub, r.link])).toEqual([
      ['hub-b', 'expired'],
      ['own', null]
    ]);
  });

  it('refuses an added hub that would take a linked hub\u2019s name', () => {
    expect(() =>
      validateNewHub({ name: 'hub-b', url: 'https://b.org/', token: 't' }, [
        OWN_KIND,
        peer('unlinked')
      ])
    ).toThrow(/"hub-b" is a hub your own hub links to/);
  });
});

describe('linking and unlinking', () => {
  it('opens the link page in its own window, then ticks the hub once linked', async () => {
    const { fake, state } = linksServer([OWN_KIND, peer('unlinked')]);
    const { hubs } = hubsModel(fake);
    const opened: [string, string][] = [];
    hubs.openWindow = (url, target) => {
      opened.push([url, target]);
    };
    await hubs.load();
    expect(hubs.selected).toEqual(['own']);
    hubs.setSelected('hub-b', true); // not linked: cannot be ticked
    expect(hubs.selected).toEqual(['own']);

    expect(hubs.link('hub-b')).toBe(true);
    expect(opened).toEqual([
      [`${ORIGIN}/services/execplanner/links/hub-b/authorize`, LINK_WINDOW]
    ]);
    expect(hubs.linkNotice).toMatch(/^hub-b: log in there/);

    state.hubs = [OWN_KIND, peer('linked')];
    const other = await hubs.linkMessage(
      { execplanner: 'linked', hub: 'hub-b', user: 'alice-b' },
      'http://evil.example.org',
      ORIGIN
    );
    expect(other).toBe(false); // another origin: not the link page
    expect(fake.count('GET', 'hubs')).toBe(1);
    expect(
      await hubs.linkMessage(
        { execplanner: 'linked', hub: 'hub-b', user: 'alice-b' },
        ORIGIN,
        ORIGIN
      )
    ).toBe(true);
    expect(fake.count('GET', 'hubs')).toBe(2);
    expect(hubs.linkNotice).toBe('hub-b: linked as alice-b.');
    expect(hubs.selected).toEqual(['own', 'hub-b']);
  });

  it('fetches the list while the link page is open, until linked or closed', async () => {
    vi.useFakeTimers();
    try {
      const { fake, state } = linksServer([OWN_KIND, peer('unlinked')]);
      const { hubs } = hubsModel(fake);
      const win = { closed: false };
      hubs.openWindow = () => win;
      await hubs.load();
      hubs.link('hub-b');
      await vi.advanceTimersByTimeAsync(LINK_POLL_MS * 2);
      expect(fake.count('GET', 'hubs')).toBe(3); // the load, then two polls
      state.hubs = [OWN_KIND, peer('linked')];
      await vi.advanceTimersByTimeAsync(LINK_POLL_MS);
      expect(hubs.selected).toEqual(['own', 'hub-b']); // linked: ticked, and no more polls
      expect(hubs.linkNotice).toBe('hub-b: linked as alice-b.');
      await vi.advanceTimersByTimeAsync(LINK_POLL_MS * 5);
      expect(fake.count('GET', 'hubs')).toBe(4);

      // the person closes the window without linking: one last look, then no more
      state.hubs = [OWN_KIND, peer('expired')];
      await hubs.refresh();
      hubs.link('hub-b');
      win.closed = true;
      await vi.advanceTimersByTimeAsync(LINK_POLL_MS * 5);
      expect(fake.count('GET', 'hubs')).toBe(6);

      // a window left open is watched for a while only
      win.closed = false;
      hubs.link('hub-b');
      await vi.advanceTimersByTimeAsync(LINK_POLL_LIMIT_MS + LINK_POLL_MS * 5);
      const polls = fake.count('GET', 'hubs');
      expect(polls).toBeLessThanOrEqual(
        6 + LINK_POLL_LIMIT_MS / LINK_POLL_MS + 1
      );
      await vi.advanceTimersByTimeAsync(LINK_POLL_MS * 5);
      expect(fake.count('GET', 'hubs')).toBe(polls);
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes the link window once the hub is linked (by its message, or seen by a poll)', async () => {
    vi.useFakeTimers();
    try {
      const { fake, state } = linksServer([OWN_KIND, peer('unlinked')]);
      const { hubs } = hubsModel(fake);
      const closes: string[] = [];
      const win = {
        closed: false,
        close() {
          closes.push('closed');
          this.closed = true;
        }
      };
      hubs.openWindow = () => win;
      await hubs.load();
      hubs.link('hub-b');
      state.hubs = [OWN_KIND, peer('linked')];
      await hubs.linkMessage(
        { execplanner: 'linked', hub: 'hub-b', user: 'alice-b' },
        ORIGIN,
        ORIGIN
      );
      expect(closes).toEqual(['closed']);

      // no message reached the panel: the poll that sees the link closes it
      win.closed = false;
      state.hubs = [OWN_KIND, peer('expired')];
      await hubs.refresh();
      hubs.link('hub-b');
      await vi.advanceTimersByTimeAsync(LINK_POLL_MS);
      expect(closes).toEqual(['closed']); // not linked yet: left open
      state.hubs = [OWN_KIND, peer('linked')];
      await vi.advanceTimersByTimeAsync(LINK_POLL_MS);
      expect(closes).toEqual(['closed', 'closed']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not tick a hub the server lists as linked unless the person linked it here', async () => {
    const { fake, state } = linksServer([OWN_KIND, peer('expired')]);
    const { hubs } = hubsModel(fake);
    await hubs.load();
    state.hubs = [OWN_KIND, peer('linked')];
    await hubs.refresh(); // e.g. linked in another tab
    expect(hubs.selected).toEqual(['own']);
    expect(hubs.list[1].link?.state).toBe('linked');
  });

  it('says why a link failed, and refreshes quietly on focus', async () => {
    const { fake } = linksServer([OWN_KIND, peer('unlinked')]);
    const { hubs, errors } = hubsModel(fake);
    await hubs.load();
    await hubs.linkMessage(
      { execplanner: 'link-failed', hub: 'hub-b', message: 'access denied' },
      ORIGIN,
      ORIGIN
    );
    expect(errors.message).toBe(
      'Could not link your account on hub-b: access denied'
    );
    fake.on('GET', 'hubs', () => {
      throw new APIError(0, 'down');
    });
    await hubs.refresh();
    expect(errors.message).toMatch(/access denied/); // a quiet refresh leaves the line alone
    expect(hubs.list).toHaveLength(2);
    expect(hubs.hasLinkedHubs).toBe(true);
  });

  it('will not open a page that is not http(s)', async () => {
    const hub = peer('unlinked');
    const { fake } = linksServer([
      OWN_KIND,
      { ...hub, link: { ...hub.link!, authorize: 'javascript:alert(1)' } }
    ]);
    const { hubs, errors } = hubsModel(fake);
    const opened: string[] = [];
    hubs.openWindow = url => {
      opened.push(url);
    };
    await hubs.load();
    expect(hubs.link('hub-b')).toBe(false);
    expect(opened).toEqual([]);
    expect(errors.message).toMatch(/gave no link page/);
  });

  it('unlinks once confirmed, and says what the hub said', async () => {
    const { fake, state } = linksServer([OWN_KIND, peer('linked')]);
    fake.on('POST', 'hubs/hub-b/unlink', () => {
      state.hubs = [OWN_KIND, peer('unlinked')];
      return {
        hub: 'hub-b',
        state: 'unlinked',
        revoked: false,
        message:
          'hub-b could not be reached: revoke the token on its /hub/token page.'
      };
    });
    const { hubs } = hubsModel(fake);
    await hubs.load();
    hubs.setSelected('hub-b', true);
    const asked: string[] = [];
    hubs.confirmUnlink = async hub => {
      asked.push(hub.name);
      return asked.length > 1; // "Keep the link" the first time
    };
    expect(await hubs.unlink('hub-b')).toBe(false);
    expect(fake.count('POST', 'hubs/hub-b/unlink')).toBe(0);
    expect(await hubs.unlink('hub-b')).toBe(true);
    expect(asked).toEqual(['hub-b', 'hub-b']);
    expect(hubs.linkNotice).toMatch(
      /revoke the token on its \/hub\/token page/
    );
    expect(hubs.selected).toEqual(['own']);
    expect(linkState(hubs.list[1])).toBe('unlinked');
  });

  it('shows a failed unlink on the error line', async () => {
    const { fake } = linksServer([OWN_KIND, peer('linked')]);
    fake.on('POST', 'hubs/hub-b/unlink', () => {
      throw new APIError(502, 'this-hub: could not unlink hub-b: boom');
    });
    const { hubs, errors } = hubsModel(fake);
    await hubs.load();
    expect(await hubs.unlink('hub-b')).toBe(false);
    expect(errors.message).toBe(
      'Could not unlink hub-b: this-hub: could not unlink hub-b: boom'
    );
  });

  it('keeps the list when the linked hubs could not be listed, and says so', async () => {
    const fake = new FakeServer().on('GET', 'hubs', () => ({
      hubs: [OWN_KIND, ASTRO],
      links_error:
        'this-hub: your linked accounts could not be listed: timed out'
    }));
    const { hubs, errors } = hubsModel(fake);
    await hubs.load();
    expect(hubs.list.map(h => h.name)).toEqual(['own', 'astro']);
    expect(hubs.linksError).toMatch(/could not be listed/);
    expect(errors.message).toBeNull(); // not the red line
  });
});

describe('a hub that must be linked again is not an error', () => {
  function panel(): { model: ExecPlannerModel; fake: FakeServer } {
    const { fake } = linksServer([OWN_KIND, peer('linked')]);
    fake
      .on('POST', 'prepare', () => ({ request: REQUEST }))
      .on('POST', 'ask', call => {
        const hub = (call.body as { hubs: string[] }).hubs[0];
        return {
          answers: [
            hub === 'hub-b'
              ? answer('hub-b', 'error', {
                  link: 'expired',
                  messages: ['Your link to hub-b has expired']
                })
              : answer(hub, 'YES', { offers: [offer({ hub })] })
          ]
        };
      });
    const model = track(new ExecPlannerModel(fake.request));
    return { model, fake };
  }

  it('an ask answer with link turns the hub row to "Link again"', async () => {
    const { model } = panel();
    model.path = 'a.ipynb';
    await model.hubs.load();
    model.hubs.setSelected('hub-b', true);
    expect(await model.ask()).toBe(true);
    expect(model.errors.message).toBeNull();
    expect(linkView(model.hubs.list[1])?.label).toBe('Link again');
    expect(model.hubs.selected).toEqual(['own']);
    expect(model.hubs.linkNotice).toMatch(/choose "Link again"/);
    expect(model.answers.rows.find(r => r.hub === 'hub-b')?.link).toBe(
      'expired'
    );
  });

  it('an accept refused for the link does the same', async () => {
    const { model, fake } = panel();
    fake.on('POST', 'sessions/hub-b/s-9', () => {
      throw new APIError(
        409,
        'hub-b: your account there is not linked',
        null,
        'unlinked'
      );
    });
    await model.hubs.load();
    const ok = await model.accept(offer({ hub: 'hub-b', uuid: 's-9' }));
    expect(ok).toBe(false);
    expect(model.errors.message).toBeNull();
    expect(linkView(model.hubs.list[1])?.label).toBe('Link account');
  });

  it('"My sessions" lists the others and marks the hub', async () => {
    const { model, fake } = panel();
    fake.on('GET', 'sessions', () => ({
      sessions: [session('RUNNING')],
      errors: [
        { hub: 'hub-b', message: 'not linked', link: 'expired' },
        { hub: 'astro', message: 'cannot connect' }
      ]
    }));
    await model.hubs.load();
    await model.sessions.load();
    expect(model.sessions.hubErrors.map(e => e.hub)).toEqual(['astro']);
    expect(linkState(model.hubs.list[1])).toBe('expired');
  });
});
