import { describe, expect, it } from 'vitest';

import {
  allOffers,
  answerRows,
  costText,
  isSortKey,
  proximityText,
  SORT_KEYS,
  sortOffers,
  URN
} from '../src/offers';
import { answer, fig, iso, offer } from './fixtures';

function ids(offers: { uuid: string }[]): string[] {
  return offers.map(o => o.uuid);
}

describe('sortOffers', () => {
  const early = offer({ uuid: 'early', start: iso(0), cores: 1, memory: 4 });
  const late = offer({ uuid: 'late', start: iso(600), cores: 8, memory: 2 });
  const middle = offer({
    uuid: 'middle',
    start: iso(300),
    cores: 4,
    memory: 16
  });

  it('start: earliest first', () => {
    expect(ids(sortOffers([late, middle, early], 'start'))).toEqual([
      'early',
      'middle',
      'late'
    ]);
  });

  it('cores: most first, ties by start', () => {
    const alsoEight = offer({ uuid: 'eight-early', start: iso(-10), cores: 8 });
    expect(ids(sortOffers([early, late, middle, alsoEight], 'cores'))).toEqual([
      'eight-early',
      'late',
      'middle',
      'early'
    ]);
  });

  it('memory: most first', () => {
    expect(ids(sortOffers([early, late, middle], 'memory'))).toEqual([
      'middle',
      'early',
      'late'
    ]);
  });

  it('cost: lowest monetary max first, offers without it last, ties by start', () => {
    const cheap = offer({
      uuid: 'cheap',
      start: iso(900),
      costs: [fig(URN.monetary, 0.1, { min: 0.05 })]
    });
    const dear = offer({ uuid: 'dear', costs: [fig(URN.monetary, 2)] });
    const energyOnly = offer({
      uuid: 'energy-only',
      start: iso(0),
      costs: [fig(URN.energy, 0.01)]
    });
    const free = offer({ uuid: 'free', costs: [fig(URN.monetary, 0)] });
    const cheapToo = offer({
      uuid: 'cheap-earlier',
      start: iso(100),
      costs: [fig(URN.monetary, 0.1)]
    });
    expect(
      ids(sortOffers([energyOnly, dear, cheap, free, cheapToo], 'cost'))
    ).toEqual(['free', 'cheap-earlier', 'cheap', 'dear', 'energy-only']);
  });

  it('proximity: shortest transfer time, then most data local, then start; no figures last', () => {
    const local = offer({
      uuid: 'local',
      start: iso(500),
      metrics: [fig(URN.dataTransferTime, 0), fig(URN.dataLocal, 1)]
    });
    const partly = offer({
      uuid: 'partly',
      metrics: [fig(URN.dataTransferTime, 0), fig(URN.dataLocal, 0.5)]
    });
    const far = offer({
      uuid: 'far',
      metrics: [fig(URN.dataTransferTime, 40), fig(URN.dataBytes, 1.2e9)]
    });
    const unknown = offer({ uuid: 'unknown', start: iso(-100) });
    // all data local but no transfer time given: counts as no transfer at all
    const localOnly = offer({
      uuid: 'local-only',
      start: iso(700),
      metrics: [fig(URN.dataLocal, 1)]
    });
    const nothingToMove = offer({
      uuid: 'nothing-to-move',
      start: iso(800),
      metrics: [fig(URN.dataBytes, 0)]
    });
    expect(
      ids(
        sortOffers(
          [unknown, nothingToMove, far, localOnly, partly, local],
          'proximity'
        )
      )
    ).toEqual([
      'local',
      'local-only',
      'nothing-to-move',
      'partly',
      'far',
      'unknown'
    ]);
  });

  it('does not change its input and knows every key', () => {
    const input = [late, early];
    for (const key of SORT_KEYS) {
      expect(isSortKey(key)).toBe(true);
      expect(sortOffers(input, key)).toHaveLength(2);
    }
    expect(ids(input)).toEqual(['late', 'early']);
    expect(isSortKey('price')).toBe(false);
  });
});

describe('answers', () => {
  const yes = answer('own', 'YES', {
    seconds: 0.31,
    offers: [offer({ uuid: 'a', hub: '' }), offer({ uuid: 'b', hub: 'own' })]
  });
  const no = answer('astro', 'NO', {
    seconds: 0.12,
    messages: ['No profile has 64 cores', 'GPUs: none here']
  });
  const slow = answer('slow', 'timeout', {
    seconds: 5,
    messages: ['no answer within 5 s']
  });
  const broken = answer('broken', 'error', {
    seconds: 0.02,
    messages: ['401 Unauthorized: check the token']
  });

  it('one row per hub in the order asked, with NO reasons, timeout and error texts', () => {
    const rows = answerRows([yes, no, slow, broken]);
    expect(rows.map(r => [r.hub, r.status])).toEqual([
      ['own', 'YES'],
      ['astro', 'NO'],
      ['slow', 'timeout'],
      ['broken', 'error']
    ]);
    expect(rows[0].summary).toBe('2 offers in 0.31 s');
    expect(rows[0].messages).toEqual([]);
    expect(rows[1].messages).toEqual([
      'No profile has 64 cores',
      'GPUs: none here'
    ]);
    expect(rows[1].summary).toContain('no offer');
    expect(rows[2].summary).toBe('in 5.00 s');
    expect(rows[2].messages).toEqual(['no answer within 5 s']);
    expect(rows[3].summary).toBe('after 0.02 s'); // the status says "could not ask"
    expect(rows[3].messages).toEqual(['401 Unauthorized: check the token']);
  });

  it('a hub asked that has not answered yet is a row "asking" in its place', () => {
    const rows = answerRows([no, yes], ['own', 'slow', 'astro']);
    expect(rows.map(r => [r.hub, r.status, r.summary])).toEqual([
      ['own', 'YES', '2 offers in 0.31 s'],
      ['slow', 'asking', 'asking…'],
      ['astro', 'NO', 'no offer (answered in 0.12 s)']
    ]);
    expect(rows[1].messages).toEqual([]);
    expect(Number.isNaN(rows[1].seconds)).toBe(true);
    expect(answerRows([], ['a', 'b']).map(r => r.status)).toEqual([
      'asking',
      'asking'
    ]);
  });

  it('offers come only from YES answers, each tagged with its hub', () => {
    const stray = answer('astro', 'NO', {
      offers: [offer({ uuid: 'ignored' })]
    });
    const offers = allOffers([yes, stray, slow]);
    expect(offers.map(o => [o.hub, o.uuid])).toEqual([
      ['own', 'a'],
      ['own', 'b']
    ]);
    const single = answerRows([answer('x', 'YES', { offers: [offer()] })]);
    expect(single[0].summary).toBe('1 offer in 0.25 s');
  });
});

describe('cell texts', () => {
  it('proximity: local, bytes and time, fraction, none', () => {
    expect(proximityText(offer({ metrics: [fig(URN.dataLocal, 1)] }))).toBe(
      'local'
    );
    expect(proximityText(offer({ metrics: [fig(URN.dataBytes, 0)] }))).toBe(
      'local'
    );
    expect(
      proximityText(
        offer({
          metrics: [
            fig(URN.dataBytes, 1.2e9),
            fig(URN.dataTransferTime, 40),
            fig(URN.dataLocal, 0)
          ]
        })
      )
    ).toBe('1.2 GB, ~40 s');
    expect(proximityText(offer({ metrics: [fig(URN.dataLocal, 0.25)] }))).toBe(
      '25% local'
    );
    expect(proximityText(offer())).toBe('—');
  });

  it('cost: monetary first, a range, another cost, none', () => {
    expect(
      costText(
        offer({
          costs: [
            fig(URN.energy, 1.5, { unit: 'kWh' }),
            fig(URN.monetary, 0.12, { unit: 'EUR' })
          ]
        })
      )
    ).toBe('0.12 EUR');
    expect(
      costText(
        offer({ costs: [fig(URN.monetary, 0.12, { min: 0.1, unit: 'EUR' })] })
      )
    ).toBe('0.10–0.12 EUR');
    expect(
      costText(offer({ costs: [fig(URN.carbon, 30, { unit: 'gCO2' })] }))
    ).toBe('30 gCO2');
    expect(costText(offer())).toBe('—');
  });
});
