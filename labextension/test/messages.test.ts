import { describe, expect, it } from 'vitest';

import {
  fieldLabel,
  formatTime,
  humanize,
  hubFailureText,
  readableMessages
} from '../src/messages';
import { sizeNotes } from '../src/offers';
import { offer } from './fixtures';

// a fixed zone and locale, so that the texts do not depend on the machine
const AT = {
  locale: 'en-GB',
  timeZone: 'Europe/Paris',
  now: Date.parse('2026-11-24T12:00:00Z')
};

describe('field labels', () => {
  it.each([
    ['compute.cores.min', 'Cores min'],
    ['compute.cores.max', 'Cores max'],
    ['compute.memory.min', 'Memory min (GiB)'],
    ['compute.accelerators[0]', 'GPUs'],
    ['schedule.requested.start', 'Start'],
    ['schedule.requested.duration', 'Duration'],
    ['start.earliest', 'Start earliest'],
    ['data[2]', 'Data line 3'],
    ['meta.name', 'meta.name']
  ])('%s is "%s", as the form says', (path, label) => {
    expect(fieldLabel(path)).toBe(label);
  });
});

describe('the one time format', () => {
  it('is the local time with its zone, with the day when not today', () => {
    expect(formatTime('2026-11-24T14:00:00Z', AT)).toBe('15:00 CET');
    expect(formatTime('2026-11-25T14:00:00Z', AT)).toBe(
      'Wed 25 Nov, 15:00 CET'
    );
    expect(formatTime('not a time', AT)).toBe('not a time');
  });
});

describe("the hubs' messages, for a person", () => {
  it('names fields as the form does, in local time, durations in words', () => {
    expect(
      humanize(
        'compute.cores.min is 64 but the largest profile has 8: lower compute.cores.min.',
        AT
      )
    ).toBe(
      '"Cores min" is 64 but the largest profile has 8: lower "Cores min".'
    );
    expect(
      humanize(
        'This hub has no room for the request with a start between 2026-11-24T12:00:00Z and ' +
          '2026-11-25T12:00:00Z; widen schedule.requested.start.',
        AT
      )
    ).toBe(
      'This hub has no room for the request with a start between 13:00 CET and ' +
        'Wed 25 Nov, 13:00 CET; widen "Start".'
    );
    expect(humanize('No profile runs PT2H30M; the longest is PT1H.', AT)).toBe(
      'No profile runs 2 h 30 min; the longest is 1 h.'
    );
    expect(humanize('data[0]: cannot be fetched', AT)).toBe(
      'Data line 1: cannot be fetched'
    );
  });

  it('shows each reason once', () => {
    expect(
      readableMessages(
        ['compute.cores.min too big', 'compute.cores.min too big', 'other', ''],
        AT
      )
    ).toEqual(['"Cores min" too big', 'other']);
  });

  it('says what a refused token or a dead hub means', () => {
    expect(
      hubFailureText(
        "403: send the header 'Authorization: token <token>' (HTTP 403)"
      )
    ).toMatch(/did not accept your token/);
    expect(hubFailureText('cannot connect: [Errno 111]')).toMatch(
      /could not be reached/
    );
    expect(hubFailureText('something else')).toBe('something else');
  });
});

describe("an offer's size, explained", () => {
  const asked = { cores: { min: 1, max: 2 }, memory: { min: 1, max: 2 } };

  it('says when it is less than the most asked for, or a profile allows more', () => {
    const small = offer({
      cores: 1,
      memory: 2,
      profile_about: { description: 'This host', cores_max: 2, memory_max: 23 }
    });
    expect(sizeNotes(small, asked)).toEqual([
      '1 of up to 2 cores: what is free on this hub at that start',
      '2 GiB: what you asked for; this profile allows up to 23'
    ]);
  });

  it('says nothing when the offer is all that was asked and all the profile has', () => {
    const full = offer({
      cores: 2,
      memory: 2,
      profile_about: { description: null, cores_max: 2, memory_max: null }
    });
    expect(sizeNotes(full, asked)).toEqual([]);
    expect(sizeNotes(full, null)).toEqual([]);
  });
});
