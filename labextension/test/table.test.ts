import { afterEach, describe, expect, it } from 'vitest';

import { buildAskBody, DEFAULTS, formFromDefaults } from '../src/form';
import { AnswersModel } from '../src/model/answers';
import { ErrorState } from '../src/model/errors';
import { OfferTableModel } from '../src/model/table';
import {
  answer,
  emissions,
  disposeAll,
  fig,
  hubServer,
  iso,
  offer,
  REQUEST,
  track
} from './fixtures';
import { URN } from '../src/offers';

afterEach(disposeAll);

describe('the offers table', () => {
  it('sorts every offer of every hub by the chosen key, and emits on a new key', async () => {
    const fake = hubServer()
      .on('POST', 'prepare', () => ({ request: REQUEST }))
      .on('POST', 'ask', call => {
        const hub = (call.body as { hubs: string[] }).hubs[0];
        return {
          answers: [
            hub === 'own'
              ? answer('own', 'YES', {
                  offers: [
                    offer({
                      uuid: 'cheap-late',
                      start: iso(600),
                      costs: [fig(URN.monetary, 1)]
                    }),
                    offer({ uuid: 'no-cost', start: iso(0) })
                  ]
                })
              : answer('astro', 'YES', {
                  offers: [
                    offer({
                      hub: 'astro',
                      uuid: 'dear',
                      start: iso(300),
                      costs: [fig(URN.monetary, 9)]
                    })
                  ]
                })
          ]
        };
      });
    const errors = track(new ErrorState());
    const answers = track(new AnswersModel(fake.request, errors));
    const table = track(new OfferTableModel(answers));
    expect(table.sortKey).toBe('start');
    expect(table.offers).toEqual([]);
    await answers.ask(
      buildAskBody(formFromDefaults(DEFAULTS), ['own', 'astro'], 'a.ipynb')
    );
    expect(table.offers.map(o => o.uuid)).toEqual([
      'no-cost',
      'dear',
      'cheap-late'
    ]);
    const changes = emissions(table.changed);
    table.sortKey = 'cost';
    expect(changes.count).toBe(1);
    // offers without the figure sort last
    expect(table.offers.map(o => o.uuid)).toEqual([
      'cheap-late',
      'dear',
      'no-cost'
    ]);
    answers.reset();
    expect(table.offers).toEqual([]);
    expect(table.sortKey).toBe('cost');
  });
});
