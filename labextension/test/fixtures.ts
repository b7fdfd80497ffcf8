/** Builders of labserver JSON for the tests, and a fake request function that records calls. */
import { APIError, IAnswer, IFigure, IOffer, ISession, RequestFunction } from '../src/types';

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

export function fig(type: string, max: number | null, fields: Partial<IFigure> = {}): IFigure {
  return { type, min: max, max, unit: null, description: null, ...fields };
}

export function answer(hub: string, status: IAnswer['status'], fields: Partial<IAnswer> = {}): IAnswer {
  return { hub, status, seconds: 0.25, offerset: null, messages: [], offers: [], ...fields };
}

export function session(phase: string, fields: Partial<ISession> = {}): ISession {
  const terminal = ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED'].includes(phase);
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
    return this.calls.filter(c => c.method === method && c.endPoint === endPoint).length;
  }

  readonly request: RequestFunction = async <T>(endPoint: string, init?: RequestInit): Promise<T> => {
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const call = { endPoint, method, body };
    this.calls.push(call);
    const handler = this.routes.get(`${method} ${endPoint}`);
    if (!handler) {
      throw new APIError(404, `no route ${method} ${endPoint}`);
    }
    return handler(call) as T;
  };
}
