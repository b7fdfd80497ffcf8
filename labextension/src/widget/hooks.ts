/**
 * What the views share: re-rendering on a model's signal, a ticking clock, local times.
 */
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { formatTime } from '../messages';

/** Re-render on every emission of `signal` (a model's `changed`). */
export function useSignal(signal: ISignal<unknown, void>): void {
  const [, bump] = React.useReducer((n: number) => n + 1, 0);
  React.useEffect(() => {
    const slot = (): void => bump();
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
}

/** The current time, updated every `ms` (the offers' expiry countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

/** An ISO time in the panel's one format (local time, with the zone); the text when not a time. */
export function localTime(iso: string | null | undefined): string {
  return iso ? formatTime(iso) : '—';
}
