/**
 * What the views share: re-rendering on a model's signal, a ticking clock, local times.
 */
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

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

/** An ISO time in the browser's locale; the text itself when it is not a time. */
export function localTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}
