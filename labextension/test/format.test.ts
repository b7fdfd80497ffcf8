import { describe, expect, it } from 'vitest';

import {
  countdownText,
  formatAccelerators,
  formatBytes,
  formatDuration,
  formatFigure,
  formatSeconds,
  formatStart,
  isExpired
} from '../src/format';
import { fig, iso, NOW } from './fixtures';

describe('countdownText', () => {
  it('counts minutes and seconds, hours past an hour, and says expired', () => {
    expect(countdownText(iso(245), NOW)).toBe('4:05');
    expect(countdownText(iso(59.9), NOW)).toBe('0:59');
    expect(countdownText(iso(3723), NOW)).toBe('1:02:03');
    expect(countdownText(iso(0), NOW)).toBe('expired');
    expect(countdownText(iso(-30), NOW)).toBe('expired');
    expect(countdownText('not a date', NOW)).toBe('—');
  });

  it('moves with the clock', () => {
    const expires = iso(10);
    expect(countdownText(expires, NOW)).toBe('0:10');
    expect(countdownText(expires, NOW + 1000)).toBe('0:09');
    expect(countdownText(expires, NOW + 10_000)).toBe('expired');
    expect(isExpired(expires, NOW + 9_999)).toBe(false);
    expect(isExpired(expires, NOW + 10_000)).toBe(true);
  });
});

describe('texts', () => {
  it('durations, start, bytes, accelerators', () => {
    expect(formatDuration(3600)).toBe('1 h');
    expect(formatDuration(5400)).toBe('1 h 30 min');
    expect(formatDuration(45 * 60)).toBe('45 min');
    expect(formatDuration(20)).toBe('20 s');
    expect(formatStart(iso(-5), NOW)).toBe('now');
    expect(formatStart(iso(12 * 60), NOW)).toBe('in 12 min');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(340e6)).toBe('340 MB');
    expect(formatAccelerators({ 'nvidia.com/gpu': 1 })).toBe(
      '1× nvidia.com/gpu'
    );
    expect(formatAccelerators({})).toBe('—');
  });

  it('seconds and figures', () => {
    expect(formatSeconds(0.314)).toBe('0.31 s');
    expect(formatSeconds(44.6)).toBe('45 s');
    expect(formatSeconds(Number.NaN)).toBe('?');
    expect(formatFigure(fig('x', 0.12, { unit: 'EUR' }))).toBe('0.12 EUR');
    expect(formatFigure(fig('x', 0.12, { min: 0.1, unit: 'EUR' }))).toBe(
      '0.10–0.12 EUR'
    );
    expect(formatFigure(fig('x', null))).toBe('—');
  });
});
