import { afterEach, describe, expect, it } from 'vitest';

import { buildAskBody, DEFAULTS, formFromDefaults } from '../src/form';
import { ExecPlannerModel } from '../src/model';
import { disposeAll, FakeServer, track } from './fixtures';

afterEach(disposeAll);

describe('the ask body', () => {
  it('is in seconds and ISO times', () => {
    const form = {
      ...formFromDefaults(DEFAULTS),
      startEarliest: '2026-11-24T18:30',
      gpus: '1'
    };
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
    expect(body.start?.earliest).toBe(
      new Date('2026-11-24T18:30').toISOString()
    );
    expect(body.start?.latest).toBeNull();
    expect(
      buildAskBody(formFromDefaults(DEFAULTS), ['own'], 'a.ipynb').start
    ).toBeUndefined();
  });

  it.each([
    [{ coresMin: 'x' }, /^Cores min: enter a number/],
    [
      { coresMin: '3', coresMax: '2' },
      /^Cores max: must be at least Cores min/
    ],
    [{ coresMin: '1.5' }, /^Cores min: enter a whole number/],
    [{ memoryMin: '4', memoryMax: '2' }, /^Memory max \(GiB\)/],
    [{ memoryMin: '1.5' }, /^Memory min \(GiB\): enter a whole number/],
    [{ gpus: '-1' }, /^GPUs: must be at least 0/],
    [{ durationMinutes: '0' }, /^Duration \(minutes\)/],
    [
      { startEarliest: '2026-11-24T18:30', startLatest: '2026-11-24T17:00' },
      /^Start latest: must not be before/
    ]
  ])('names the field of a bad value %o', (change, pattern) => {
    const form = { ...formFromDefaults(DEFAULTS), ...change };
    expect(() => buildAskBody(form, ['own'], 'a.ipynb')).toThrow(pattern);
  });

  it('needs a hub and a notebook', () => {
    const form = formFromDefaults(DEFAULTS);
    expect(() => buildAskBody(form, [], 'a.ipynb')).toThrow(
      /Hubs: tick at least one hub/
    );
    expect(() => buildAskBody(form, ['own'], '')).toThrow(
      /Notebook: none chosen/
    );
  });
});

describe('the ask body with data', () => {
  it('carries the data items, and no data key without any', () => {
    const form = {
      ...formFromDefaults(DEFAULTS),
      data: 'survey=https://a.example.org/s/cat.fits\ns3://b/k.fits'
    };
    expect(buildAskBody(form, ['own'], 'a.ipynb').data).toEqual([
      { name: 'survey', location: 'https://a.example.org/s/cat.fits' },
      { name: 'k.fits', s3: { bucket: 'b', key: 'k.fits' } }
    ]);
    expect(
      'data' in buildAskBody(formFromDefaults(DEFAULTS), ['own'], 'a.ipynb')
    ).toBe(false);
  });

  it('the model sends it, and a bad line stops the ask before the server is called', async () => {
    const fake = new FakeServer()
      .on('GET', 'hubs', () => ({
        hubs: [{ name: 'own', url: 'http://h/', own: true, has_token: true }]
      }))
      .on('POST', 'prepare', () => ({ request: { name: 'a' } }))
      .on('POST', 'ask', () => ({ answers: [] }));
    const model = track(new ExecPlannerModel(fake.request));
    model.path = 'a.ipynb';
    await model.hubs.load();
    model.form.setField('data', 'https://a.example.org/x\nnot-a-url');
    expect(await model.ask()).toBe(false);
    expect(model.errors.message).toMatch(/^Data line 2: "not-a-url"/);
    expect(fake.count('POST', 'prepare') + fake.count('POST', 'ask')).toBe(0);
    model.form.setField('data', 'ivo://example.org/survey');
    expect(await model.ask()).toBe(true);
    // the data goes with the notebook's needs to prepare, which makes the request
    expect(fake.calls.find(c => c.endPoint === 'prepare')?.body).toMatchObject({
      data: [{ name: 'survey', ivoid: 'ivo://example.org/survey' }]
    });
  });
});
