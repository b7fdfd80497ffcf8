import { afterEach, describe, expect, it } from 'vitest';

import { buildAskBody, DEFAULTS, formFromDefaults } from '../src/form';
import { AnswersModel } from '../src/model/answers';
import { ErrorState } from '../src/model/errors';
import { OfferTableModel } from '../src/model/table';
import { APIError, IAskBody, RequestFunction } from '../src/types';
import {
  answer,
  emissions,
  disposeAll,
  hubServer,
  iso,
  offer,
  REQUEST,
  settle,
  slowServer,
  track
} from './fixtures';

afterEach(disposeAll);

function answersModel(request: RequestFunction): {
  answers: AnswersModel;
  errors: ErrorState;
} {
  const errors = track(new ErrorState());
  const answers = track(new AnswersModel(request, errors));
  return { answers, errors };
}

/** The form's defaults for `hubs` and work/analysis.ipynb. */
function body(hubs: string[] = ['own', 'astro', 'hung']): IAskBody {
  return buildAskBody(formFromDefaults(DEFAULTS), hubs, 'work/analysis.ipynb');
}

describe('asking', () => {
  it('prepares once, then asks every hub on its own with the prepared request', async () => {
    const { fake, reply } = slowServer();
    const { answers } = answersModel(fake.request);
    const done = answers.ask(body());
    await settle();
    expect(fake.count('POST', 'prepare')).toBe(1);
    const prepare = fake.calls.find(c => c.endPoint === 'prepare')
      ?.body as Record<string, unknown>;
    expect(prepare).toMatchObject({
      path: 'work/analysis.ipynb',
      duration: 3600,
      cores: { min: 1, max: 2 },
      timeout: 5
    });
    expect(prepare).not.toHaveProperty('hubs');
    const asks = fake.calls.filter(c => c.endPoint === 'ask').map(c => c.body);
    expect(asks).toEqual([
      { hubs: ['own'], request: REQUEST, timeout: 5 },
      { hubs: ['astro'], request: REQUEST, timeout: 5 },
      { hubs: ['hung'], request: REQUEST, timeout: 5 }
    ]);
    for (const hub of ['own', 'astro', 'hung']) {
      await reply(hub, {
        answers: [answer(hub, 'NO', { messages: ['too big'] })]
      });
    }
    expect(await done).toBe(true);
    expect(fake.count('POST', 'prepare')).toBe(1);
  });

  it('shows each answer as it arrives, in the order asked, the others still asking', async () => {
    const { fake, reply } = slowServer();
    const { answers } = answersModel(fake.request);
    const table = track(new OfferTableModel(answers));
    const changes = emissions(answers.changed);
    const done = answers.ask(body());
    let finished = false;
    void done.then(() => (finished = true));
    await settle();
    expect(answers.asking).toBe(true);
    expect(answers.askStarted).not.toBeNull();
    expect(answers.asked).toEqual(['own', 'astro', 'hung']);
    expect(answers.rows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'asking'],
      ['astro', 'asking'],
      ['hung', 'asking']
    ]);
    expect(table.offers).toEqual([]);

    // astro answers first: its offers are in while own and hung are still asked
    const before = changes.count;
    await reply('astro', {
      answers: [
        answer('astro', 'YES', {
          offers: [
            offer({ hub: 'astro', uuid: 'a-big', cores: 4, start: iso(900) })
          ]
        })
      ]
    });
    expect(changes.count).toBeGreaterThan(before);
    expect(answers.rows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'asking'],
      ['astro', 'YES'],
      ['hung', 'asking']
    ]);
    expect(table.offers.map(o => o.uuid)).toEqual(['a-big']);
    expect(answers.asking).toBe(true);
    expect(finished).toBe(false);

    // then own: both hubs' offers, sortable while hung is still asked
    await reply('own', {
      answers: [
        answer('own', 'YES', {
          offers: [
            offer({ hub: 'own', uuid: 'o-small', cores: 1, start: iso(0) })
          ]
        })
      ]
    });
    expect(answers.answers.map(a => a.hub)).toEqual(['own', 'astro']);
    expect(answers.received.map(a => a.hub)).toEqual(['astro', 'own']);
    expect(table.offers.map(o => o.uuid)).toEqual(['o-small', 'a-big']);
    table.sortKey = 'cores';
    expect(table.offers.map(o => o.uuid)).toEqual(['a-big', 'o-small']);
    expect(answers.rows[2]).toMatchObject({
      hub: 'hung',
      status: 'asking',
      summary: 'asking…'
    });
    expect(answers.asking).toBe(true);

    // hung times out at last: the others' offers stay, and asking is over
    await reply('hung', {
      answers: [
        answer('hung', 'timeout', {
          seconds: 5,
          messages: ['timed out after 5 s']
        })
      ]
    });
    expect(await done).toBe(true);
    expect(answers.asking).toBe(false);
    expect(answers.askStarted).toBeNull();
    expect(answers.rows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'YES'],
      ['astro', 'YES'],
      ['hung', 'timeout']
    ]);
    expect(answers.rows[2].summary).toBe('in 5.00 s');
    expect(table.offers.map(o => o.uuid)).toEqual(['a-big', 'o-small']);
  });

  it('drops the late answers of an ask it was reset from', async () => {
    const { fake, reply } = slowServer();
    const { answers } = answersModel(fake.request);
    const first = answers.ask(body(['own', 'hung']));
    await settle();
    await reply('own', {
      answers: [answer('own', 'YES', { offers: [offer()] })]
    });
    answers.reset();
    expect(answers.asking).toBe(false);
    expect(answers.rows).toEqual([]);
    await reply('hung', { answers: [answer('hung', 'timeout')] });
    expect(await first).toBe(false);
    expect(answers.answers).toEqual([]);
  });

  it("makes a failed hub's call that hub's error row; a failed prepare asks no hub", async () => {
    const { fake, pending } = slowServer();
    const { answers, errors } = answersModel(fake.request);
    errors.set('an old failure');
    const done = answers.ask(body(['own', 'astro']));
    await settle();
    expect(errors.message).toBeNull();
    pending
      .get('astro')?.[0]
      .reject(new APIError(502, 'astro: connection refused'));
    pending.get('own')?.[0].resolve({ answers: [] }); // an answer without this hub's
    expect(await done).toBe(true);
    expect(answers.rows.map(r => [r.hub, r.status, r.messages])).toEqual([
      ['own', 'error', ['the server sent no answer for this hub']],
      ['astro', 'error', ['astro: connection refused']]
    ]);
    expect(errors.message).toBeNull();

    fake.on('POST', 'prepare', () => {
      throw new APIError(404, 'path: there is no notebook');
    });
    expect(await answers.ask(body(['own']))).toBe(false);
    expect(errors.message).toBe('Asking failed: path: there is no notebook');
    expect(answers.asking).toBe(false);
    expect(answers.rows).toEqual([]);
    expect(fake.count('POST', 'ask')).toBe(2);
  });

  it('refuses a prepare answer without a request', async () => {
    const fake = hubServer().on('POST', 'prepare', () => ({}));
    const { answers, errors } = answersModel(fake.request);
    expect(await answers.ask(body(['own']))).toBe(false);
    expect(errors.message).toBe(
      'Asking failed: the server did not answer the request it made'
    );
    expect(fake.count('POST', 'ask')).toBe(0);
  });

  it('is busy while asking and refuses a second ask meanwhile', async () => {
    const { fake, reply } = slowServer();
    const { answers } = answersModel(fake.request);
    const first = answers.ask(body(['own']));
    await settle();
    expect(answers.asking).toBe(true);
    expect(await answers.ask(body(['own']))).toBe(false);
    await reply('own', { answers: [answer('own', 'NO')] });
    expect(await first).toBe(true);
    expect(answers.asking).toBe(false);
    expect(fake.count('POST', 'prepare')).toBe(1);
    expect(fake.count('POST', 'ask')).toBe(1);
  });

  it('still reads a whole answer of the old single ask (another server version)', async () => {
    // a server that answers every ask with all hubs: each hub's call picks its own answer
    const fake = hubServer()
      .on('POST', 'prepare', () => ({ request: REQUEST }))
      .on('POST', 'ask', () => ({
        answers: [
          answer('own', 'YES', {
            offers: [
              offer({ uuid: 'late', start: iso(600) }),
              offer({ uuid: 'soon' })
            ]
          }),
          answer('astro', 'NO', { messages: ['too big'] })
        ]
      }));
    const { answers } = answersModel(fake.request);
    const table = track(new OfferTableModel(answers));
    expect(await answers.ask(body(['own', 'astro']))).toBe(true);
    expect(answers.rows.map(r => r.status)).toEqual(['YES', 'NO']);
    expect(table.offers.map(o => o.uuid)).toEqual(['soon', 'late']);
  });

  it('drops the answers that come after it is disposed', async () => {
    const { fake, reply } = slowServer();
    const { answers } = answersModel(fake.request);
    const changes = emissions(answers.changed);
    void answers.ask(body(['own']));
    await settle();
    answers.dispose();
    const before = changes.count;
    await reply('own', {
      answers: [answer('own', 'YES', { offers: [offer()] })]
    });
    expect(answers.answers).toEqual([]);
    expect(changes.count).toBe(before);
  });
});
