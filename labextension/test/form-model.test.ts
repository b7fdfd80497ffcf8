import { afterEach, describe, expect, it } from 'vitest';

import { DEFAULTS } from '../src/form';
import { FormModel } from '../src/model/form';
import { emissions, disposeAll, track } from './fixtures';

afterEach(disposeAll);

describe('the request form', () => {
  it('starts from the settings defaults', () => {
    const form = track(new FormModel());
    expect(form.values).toMatchObject({
      coresMin: '1',
      coresMax: '2',
      memoryMin: '1',
      memoryMax: '2',
      gpus: '0',
      durationMinutes: '60',
      timeout: '5',
      startEarliest: '',
      startLatest: '',
      data: ''
    });
    expect(form.defaults).toEqual(DEFAULTS);
    const custom = track(new FormModel({ ...DEFAULTS, gpus: 1, timeout: 10 }));
    expect(custom.values).toMatchObject({ gpus: '1', timeout: '10' });
  });

  it('keeps what is typed, as typed, and emits', () => {
    const form = track(new FormModel());
    const changes = emissions(form.changed);
    form.setField('coresMax', '8');
    form.setField('data', 'ivo://example.org/survey');
    expect(form.values.coresMax).toBe('8');
    expect(form.values.data).toBe('ivo://example.org/survey');
    expect(changes.count).toBe(2);
  });

  it('new defaults replace only the fields the user left alone', () => {
    const form = track(new FormModel());
    form.setField('coresMin', '4');
    form.setDefaults({ ...DEFAULTS, coresMin: 2, durationMinutes: 120 });
    expect(form.values.coresMin).toBe('4');
    expect(form.values.durationMinutes).toBe('120');
    expect(form.defaults.durationMinutes).toBe(120);
    // and a field back at the new default follows the next change again
    form.setDefaults({ ...DEFAULTS, durationMinutes: 30 });
    expect(form.values.durationMinutes).toBe('30');
  });
});
