import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  nextPollDelay,
  POLL_FAST_MS,
  POLL_SLOW_MS,
  sessionAction,
  sessionPath,
  SessionModel
} from '../src/model/session';
import { APIError, ISession } from '../src/types';
import { emissions, disposeAll, FakeServer, session, track } from './fixtures';

describe('the session routes', () => {
  it('encode the hub and the uuid', () => {
    expect(sessionPath('hub b', 'x/1')).toBe('sessions/hub%20b/x%2F1');
  });

  it('post the action', async () => {
    const fake = new FakeServer().on('POST', 'sessions/own/s-1', () =>
      session('CANCELLED')
    );
    const fresh = await sessionAction(fake.request, 'own', 's-1', 'cancel');
    expect(fresh.phase).toBe('CANCELLED');
    expect(fake.calls[0].body).toEqual({ action: 'cancel' });
  });
});

describe('progress polling', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    disposeAll();
    vi.useRealTimers();
  });

  it('chooses the delay from the phase', () => {
    expect(nextPollDelay(session('ACCEPTED'))).toBe(POLL_FAST_MS);
    expect(nextPollDelay(session('PREPARING'))).toBe(POLL_FAST_MS);
    expect(nextPollDelay(session('AVAILABLE'))).toBe(POLL_SLOW_MS);
    expect(nextPollDelay(session('RUNNING'))).toBe(POLL_SLOW_MS);
    for (const phase of [
      'COMPLETED',
      'FAILED',
      'CANCELLED',
      'REJECTED',
      'EXPIRED'
    ]) {
      expect(nextPollDelay(session(phase))).toBeNull();
    }
    expect(nextPollDelay(session('RUNNING', { terminal: true }))).toBeNull();
  });

  it.each(['FAILED', 'CANCELLED', 'COMPLETED'])(
    'polls every second while preparing, and stops at %s',
    async terminal => {
      const phases: ISession[] = [
        session('PREPARING', { progress: 40, messages: ['installing numpy'] }),
        session('PREPARING', { progress: 60 }),
        session(terminal, { progress: 60, messages: ['the end'] })
      ];
      const fake = new FakeServer().on(
        'GET',
        'sessions/own/s-1',
        () => phases.shift() ?? session(terminal)
      );
      const progress = track(new SessionModel(fake.request));
      progress.show(session('ACCEPTED', { progress: 10 }));
      expect(progress.session?.phase).toBe('ACCEPTED');
      expect(progress.isShown('own', 's-1')).toBe(true);
      expect(progress.polling).toBe(true);

      await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
      expect(progress.session?.phase).toBe('PREPARING');
      expect(progress.session?.messages).toEqual(['installing numpy']);
      await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
      expect(progress.session?.progress).toBe(60);
      await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
      expect(progress.session?.phase).toBe(terminal);
      expect(progress.polling).toBe(false);
      const polls = fake.count('GET', 'sessions/own/s-1');
      expect(polls).toBe(3);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls);
    }
  );

  it('polls slower once the session is available', async () => {
    let current = session('PREPARING', { progress: 40 });
    const fake = new FakeServer().on('GET', 'sessions/own/s-1', () => current);
    const progress = track(new SessionModel(fake.request));
    progress.show(current);
    current = session('AVAILABLE', {
      progress: 100,
      open_url: 'http://other/lab'
    });
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(progress.session?.open_url).toBe('http://other/lab');
    const polls = fake.count('GET', 'sessions/own/s-1');
    await vi.advanceTimersByTimeAsync(POLL_SLOW_MS - 1);
    expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.count('GET', 'sessions/own/s-1')).toBe(polls + 1);
  });

  it('keeps polling through a failed poll, stops when the session is gone, and on dispose', async () => {
    let fail: APIError | null = new APIError(502, 'broker unreachable');
    const fake = new FakeServer().on('GET', 'sessions/own/s-1', () => {
      if (fail) {
        throw fail;
      }
      return session('PREPARING');
    });
    const progress = track(new SessionModel(fake.request));
    progress.show(session('ACCEPTED'));
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(progress.pollError).toBe('broker unreachable');
    expect(progress.polling).toBe(true);
    fail = null;
    await vi.advanceTimersByTimeAsync(POLL_SLOW_MS);
    expect(progress.pollError).toBeNull();
    expect(progress.session?.phase).toBe('PREPARING');
    fail = new APIError(404, 'no such session');
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS);
    expect(progress.polling).toBe(false);

    fail = null;
    progress.show(session('PREPARING'));
    expect(progress.polling).toBe(true);
    progress.dispose();
    expect(progress.polling).toBe(false);
  });

  it('stops showing and polling on show(null), and drops a poll answered after', async () => {
    let answer: (value: ISession) => void = () => undefined;
    const fake = new FakeServer().on(
      'GET',
      'sessions/own/s-1',
      () => new Promise<ISession>(resolve => (answer = resolve))
    );
    const progress = track(new SessionModel(fake.request));
    const changes = emissions(progress.changed);
    progress.show(session('PREPARING'));
    await vi.advanceTimersByTimeAsync(POLL_FAST_MS); // a poll on its way
    progress.show(null);
    expect(progress.session).toBeNull();
    expect(progress.polling).toBe(false);
    const before = changes.count;
    answer(session('AVAILABLE'));
    await vi.advanceTimersByTimeAsync(0);
    expect(progress.session).toBeNull();
    expect(changes.count).toBe(before);
    await progress.refresh(); // nothing shown: nothing fetched
    expect(fake.count('GET', 'sessions/own/s-1')).toBe(1);
  });
});
