import { afterEach, describe, expect, it } from 'vitest';

import { ErrorState } from '../src/model/errors';
import { SessionsModel } from '../src/model/sessions';
import { APIError, RequestFunction } from '../src/types';
import { emissions, disposeAll, FakeServer, session, track } from './fixtures';

afterEach(disposeAll);

function sessionsModel(request: RequestFunction): {
  sessions: SessionsModel;
  errors: ErrorState;
} {
  const errors = track(new ErrorState());
  const sessions = track(new SessionsModel(request, errors));
  return { sessions, errors };
}

describe('my sessions', () => {
  it('lists the sessions of every hub, with the hubs that could not be reached', async () => {
    const fake = new FakeServer().on('GET', 'sessions', () => ({
      sessions: [session('RUNNING', { hub: 'astro', uuid: 'x 1' })],
      errors: [{ hub: 'slow', message: 'no answer within 5 s' }]
    }));
    const { sessions, errors } = sessionsModel(fake.request);
    errors.set('an old failure');
    const changes = emissions(sessions.changed);
    const done = sessions.load();
    expect(sessions.loading).toBe(true);
    await done;
    expect(sessions.loading).toBe(false);
    expect(changes.count).toBe(2);
    expect(sessions.list.map(s => s.uuid)).toEqual(['x 1']);
    expect(sessions.hubErrors).toEqual([
      { hub: 'slow', message: 'no answer within 5 s' }
    ]);
    expect(errors.message).toBeNull();
    expect(sessions.has('astro', 'x 1')).toBe(true);
    expect(sessions.has('own', 'x 1')).toBe(false);
  });

  it('puts a changed session in its place, and ignores one it does not list', async () => {
    const fake = new FakeServer().on('GET', 'sessions', () => ({
      sessions: [
        session('RUNNING', { uuid: 'a' }),
        session('RUNNING', { uuid: 'b' })
      ],
      errors: []
    }));
    const { sessions } = sessionsModel(fake.request);
    await sessions.load();
    const changes = emissions(sessions.changed);
    sessions.update('own', 'b', session('CANCELLED', { uuid: 'b' }));
    expect(sessions.list.map(s => [s.uuid, s.phase])).toEqual([
      ['a', 'RUNNING'],
      ['b', 'CANCELLED']
    ]);
    sessions.update('own', 'c', session('CANCELLED', { uuid: 'c' }));
    expect(sessions.list).toHaveLength(2);
    expect(changes.count).toBe(1);
  });

  it('keeps the last list when listing fails, and says so', async () => {
    let fail = false;
    const fake = new FakeServer().on('GET', 'sessions', () => {
      if (fail) {
        throw new APIError(502, 'the server is gone');
      }
      return { sessions: [session('RUNNING')], errors: [] };
    });
    const { sessions, errors } = sessionsModel(fake.request);
    await sessions.load();
    fail = true;
    await sessions.load();
    expect(sessions.list).toHaveLength(1);
    expect(sessions.loading).toBe(false);
    expect(errors.message).toBe(
      'Could not list your sessions: the server is gone'
    );
  });
});
