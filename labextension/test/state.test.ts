import { afterEach, describe, expect, it } from 'vitest';

import { ErrorState } from '../src/model/errors';
import { errorText } from '../src/model/state';
import { APIError } from '../src/types';
import { emissions, disposeAll, track } from './fixtures';

afterEach(disposeAll);

describe('the error line', () => {
  it('shows a failure, clears it, and emits each time', () => {
    const errors = track(new ErrorState());
    const changes = emissions(errors.changed);
    expect(errors.message).toBeNull();
    errors.set('hub-b: connection refused');
    expect(errors.message).toBe('hub-b: connection refused');
    errors.clear();
    expect(errors.message).toBeNull();
    expect(changes.count).toBe(2);
  });

  it('emits nothing once disposed', () => {
    const errors = new ErrorState();
    const changes = emissions(errors.changed);
    errors.dispose();
    expect(errors.isDisposed).toBe(true);
    errors.set('late');
    expect(changes.count).toBe(0);
    errors.dispose(); // twice is fine
  });

  it("takes an error's message, or the thing itself as text", () => {
    expect(errorText(new APIError(502, 'astro: unreachable'))).toBe(
      'astro: unreachable'
    );
    expect(errorText('plain')).toBe('plain');
    expect(errorText(404)).toBe('404');
  });
});
