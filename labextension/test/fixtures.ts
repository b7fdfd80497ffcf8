/**
 * Builders of labserver JSON for the tests, a fake request function that records calls (and one
 * whose asks answer when the test says), and the tests' small helpers.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';

import {
  APIError,
  IAnswer,
  IFigure,
  IHub,
  IOffer,
  ISession,
  RequestFunction
} from '../src/types';

export const NOW = Date.parse('2026-11-24T12:00:00Z');

export function iso(offsetSeconds: number): string {
  return new Date(NOW + offsetSeconds * 1000).toISOString();
}

let counter = 0;

export function offer(fields: Partial<IOffer> = {}): IOffer {
  counter += 1;
  return {
    hub: 'own',
    uuid: `offer-${counter}`,
    url: `http://hub/services/execplanner/sessions/offer-${counter}`,
    profile: 'Small server',
    cores: 1,
    memory: 1,
    accelerators: {},
    start: iso(0),
    duration: 3600,
    preparing: 30,
    expires: iso(300),
    costs: [],
    metrics: [],
    notes: [],
    ...fields
  };
}

export function fig(
  type: string,
  max: number | null,
  fields: Partial<IFigure> = {}
): IFigure {
  return { type, min: max, max, unit: null, description: null, ...fields };
}

export function answer(
  hub: string,
  status: IAnswer['status'],
  fields: Partial<IAnswer> = {}
): IAnswer {
  return {
    hub,
    status,
    seconds: 0.25,
    offerset: null,
    messages: [],
    offers: [],
    ...fields
  };
}

export function session(
  phase: string,
  fields: Partial<ISession> = {}
): ISession {
  const terminal = [
    'COMPLETED',
    'FAILED',
    'CANCELLED',
    'REJECTED',
    'EXPIRED'
  ].includes(phase);
  return {
    hub: 'own',
    uuid: 's-1',
    url: 'http://hub/services/execplanner/sessions/s-1',
    phase,
    profile: 'Small server',
    cores: 1,
    memory: 1,
    accelerators: {},
    start: iso(0),
    duration: 3600,
    expires: iso(300),
    messages: [],
    progress: 0,
    open_url: null,
    terminal,
    ...fields
  };
}

export interface ICall {
  endPoint: string;
  method: string;
  body: unknown;
}

type Handler = (call: ICall) => unknown;

/**
 * A fake server: `routes` maps "METHOD endPoint" to a handler (its value is the JSON answered;
 * throw an APIError to fail). Unknown routes fail with 404 like the real server would.
 */
export class FakeServer {
  calls: ICall[] = [];
  routes = new Map<string, Handler>();

  on(method: string, endPoint: string, handler: Handler): this {
    this.routes.set(`${method} ${endPoint}`, handler);
    return this;
  }

  count(method: string, endPoint: string): number {
    return this.calls.filter(
      c => c.method === method && c.endPoint === endPoint
    ).length;
  }

  readonly request: RequestFunction = async <T>(
    endPoint: string,
    init?: RequestInit
  ): Promise<T> => {
    const method = init?.method ?? 'GET';
    const body =
      typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const call = { endPoint, method, body };
    this.calls.push(call);
    const handler = this.routes.get(`${method} ${endPoint}`);
    if (!handler) {
      throw new APIError(404, `no route ${method} ${endPoint}`);
    }
    return handler(call) as T;
  };
}

export const OWN: IHub = {
  name: 'own',
  url: 'http://127.0.0.1:8000/services/execplanner/',
  own: true,
  has_token: true
};
export const ASTRO: IHub = {
  name: 'astro',
  url: 'https://astro.example.org/services/execplanner/',
  own: false,
  has_token: true
};
export const HUNG: IHub = {
  name: 'hung',
  url: 'http://127.0.0.1:9/services/execplanner/',
  own: false,
  has_token: true
};

/** A fake server that lists `hubs`. */
export function hubServer(hubs: IHub[] = [OWN, ASTRO]): FakeServer {
  return new FakeServer().on('GET', 'hubs', () => ({ hubs }));
}

/** A promise with its resolve and reject at hand: one hub's answer, arriving when the test says. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let every settled promise's callbacks run (the model's awaits). */
export async function settle(): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0));
}

/** The request `prepare` answers in the tests. */
export const REQUEST = {
  name: 'analysis',
  executable: { location: 'http://own/snapshots/T/analysis.ipynb' }
};

/**
 * A fake server whose `POST ask` for each hub waits until the test answers it: `pending[hub]` is a
 * list of deferred answers, one per call, in the order the calls came; `reply(hub, body, n)`
 * answers the `n`th call (default: the last) to `hub`.
 */
export function slowServer(hubs: IHub[] = [OWN, ASTRO, HUNG]) {
  const pending = new Map<string, ReturnType<typeof deferred<unknown>>[]>();
  const fake = hubServer(hubs)
    .on('POST', 'prepare', () => ({ request: REQUEST }))
    .on('POST', 'ask', call => {
      const hub = (call.body as { hubs: string[] }).hubs[0];
      const d = deferred<unknown>();
      pending.set(hub, [...(pending.get(hub) ?? []), d]);
      return d.promise;
    });
  const reply = async (hub: string, body: unknown, n = -1): Promise<void> => {
    const calls = pending.get(hub) ?? [];
    const d = calls[n < 0 ? calls.length + n : n];
    if (!d) {
      throw new Error(`no ask for ${hub} yet`);
    }
    d.resolve(body);
    await settle();
  };
  return { fake, pending, reply };
}

const live: IDisposable[] = [];

/** Dispose of `thing` after the test (`afterEach(disposeAll)`): models stop their timers. */
export function track<T extends IDisposable>(thing: T): T {
  live.push(thing);
  return thing;
}

export function disposeAll(): void {
  for (const thing of live.splice(0)) {
    thing.dispose();
  }
}

/** Count the emissions of a signal. */
export function emissions(signal: ISignal<unknown, void>): {
  readonly count: number;
} {
  const seen = { count: 0 };
  signal.connect(() => {
    seen.count += 1;
  });
  return seen;
}
