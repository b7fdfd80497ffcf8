/**
 * The request form and the "add a hub" form as pure functions: defaults, checks that name the
 * field and the fix, and the body of `POST execplanner/ask` (its data lines: ./data.ts).
 */
import { parseDataLines } from './data';
import { IAskBody, IHub, ValidationError } from './types';

/** The request form's defaults (the settings schema's, schema/plugin.json). */
export interface IDefaults {
  coresMin: number;
  coresMax: number;
  /** GiB */
  memoryMin: number;
  memoryMax: number;
  gpus: number;
  /** minutes */
  durationMinutes: number;
  /** seconds per hub */
  timeout: number;
}

export const DEFAULTS: IDefaults = {
  coresMin: 1,
  coresMax: 2,
  memoryMin: 1,
  memoryMax: 2,
  gpus: 0,
  durationMinutes: 60,
  timeout: 5
};

/** The request form as typed (strings, like the inputs); `buildAskBody` checks and converts it. */
export interface IForm {
  coresMin: string;
  coresMax: string;
  memoryMin: string;
  memoryMax: string;
  gpus: string;
  durationMinutes: string;
  /** datetime-local values ("2026-11-24T18:30"), "" for none */
  startEarliest: string;
  startLatest: string;
  timeout: string;
  /** the data the notebook needs, one entry a line (see `parseDataLines`) */
  data: string;
}

export function formFromDefaults(defaults: IDefaults): IForm {
  return {
    coresMin: String(defaults.coresMin),
    coresMax: String(defaults.coresMax),
    memoryMin: String(defaults.memoryMin),
    memoryMax: String(defaults.memoryMax),
    gpus: String(defaults.gpus),
    durationMinutes: String(defaults.durationMinutes),
    startEarliest: '',
    startLatest: '',
    timeout: String(defaults.timeout),
    data: ''
  };
}

/** The form's labels (src/widget/form.tsx), by field; messages name fields by these. */
export const LABELS: Record<keyof IForm | 'hubs' | 'notebook', string> = {
  coresMin: 'Cores min',
  coresMax: 'Cores max',
  memoryMin: 'Memory min (GiB)',
  memoryMax: 'Memory max (GiB)',
  gpus: 'GPUs',
  durationMinutes: 'Duration (minutes)',
  startEarliest: 'Start earliest',
  startLatest: 'Start latest',
  timeout: 'Wait per hub (s)',
  data: 'Data',
  hubs: 'Hubs',
  notebook: 'Notebook'
};

/** Every problem found, by field; `throw` them at once as one ValidationError. */
class Problems {
  readonly fields: Record<string, string> = {};

  add(field: string, text: string): void {
    if (!(field in this.fields)) {
      this.fields[field] = text;
    }
  }

  /** Run `check`, keeping its ValidationError as the problem of `field`; undefined then. */
  take<T>(field: string, check: () => T): T | undefined {
    try {
      return check();
    } catch (error) {
      if (error instanceof ValidationError) {
        this.add(field, error.message);
        return undefined;
      }
      throw error;
    }
  }

  throwAny(): void {
    const texts = Object.values(this.fields);
    if (texts.length > 0) {
      throw new ValidationError(texts.join('\n'), { ...this.fields });
    }
  }
}

function number(
  value: string,
  field: keyof IForm,
  options: { integer?: boolean; min: number }
): number {
  const label = LABELS[field];
  const text = value.trim();
  const parsed = text === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(parsed)) {
    throw new ValidationError(`${label}: enter a number (got "${value}")`);
  }
  if (options.integer && !Number.isInteger(parsed)) {
    throw new ValidationError(`${label}: enter a whole number (got ${value})`);
  }
  if (parsed < options.min) {
    throw new ValidationError(
      `${label}: must be at least ${options.min} (got ${value})`
    );
  }
  return parsed;
}

/** A datetime-local value as an ISO 8601 UTC time, null for "". */
export function localToISO(value: string, field: string): string | null {
  if (value.trim() === '') {
    return null;
  }
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) {
    throw new ValidationError(`${field}: not a date and time (got "${value}")`);
  }
  return t.toISOString();
}

/**
 * The body of `POST execplanner/ask` from the form, the chosen hubs and the notebook path.
 * Throws one `ValidationError` with every problem found, each naming its field as the form does
 * (`fields`: the problems by field, to show next to each).
 */
export function buildAskBody(
  form: IForm,
  hubs: readonly string[],
  path: string,
  keepOutputs = false
): IAskBody {
  const problems = new Problems();
  if (!path) {
    problems.add(
      'notebook',
      'Notebook: none chosen. Right-click a notebook in the file browser and choose "Run elsewhere…"'
    );
  }
  if (hubs.length === 0) {
    problems.add('hubs', 'Hubs: tick at least one hub to ask');
  }
  const whole = { integer: true, min: 1 };
  const coresMin = problems.take('coresMin', () =>
    number(form.coresMin, 'coresMin', whole)
  );
  const coresMax = problems.take('coresMax', () =>
    number(form.coresMax || form.coresMin, 'coresMax', whole)
  );
  if (coresMin !== undefined && coresMax !== undefined && coresMax < coresMin) {
    problems.add(
      'coresMax',
      `Cores max: must be at least Cores min (${coresMin})`
    );
  }
  const memoryMin = problems.take('memoryMin', () =>
    number(form.memoryMin, 'memoryMin', whole)
  );
  const memoryMax = problems.take('memoryMax', () =>
    number(form.memoryMax || form.memoryMin, 'memoryMax', whole)
  );
  if (
    memoryMin !== undefined &&
    memoryMax !== undefined &&
    memoryMax < memoryMin
  ) {
    problems.add(
      'memoryMax',
      `Memory max (GiB): must be at least Memory min (${memoryMin})`
    );
  }
  const gpus = problems.take('gpus', () =>
    number(form.gpus || '0', 'gpus', { integer: true, min: 0 })
  );
  const minutes = problems.take('durationMinutes', () =>
    number(form.durationMinutes, 'durationMinutes', { min: 1 })
  );
  const timeout = problems.take('timeout', () =>
    number(form.timeout || String(DEFAULTS.timeout), 'timeout', { min: 0.1 })
  );
  const earliest = problems.take('startEarliest', () =>
    localToISO(form.startEarliest, LABELS.startEarliest)
  );
  const latest = problems.take('startLatest', () =>
    localToISO(form.startLatest, LABELS.startLatest)
  );
  if (earliest && latest && Date.parse(latest) < Date.parse(earliest)) {
    problems.add(
      'startLatest',
      'Start latest: must not be before Start earliest'
    );
  }
  const data = problems.take('data', () => parseDataLines(form.data ?? ''));
  problems.throwAny();
  const body: IAskBody = {
    hubs: [...hubs],
    path,
    cores: { min: coresMin!, max: coresMax! },
    memory: { min: memoryMin!, max: memoryMax! },
    gpus: gpus!,
    duration: Math.round(minutes! * 60),
    timeout: timeout!
  };
  if (earliest || latest) {
    body.start = { earliest: earliest ?? null, latest: latest ?? null };
  }
  if (data && data.length > 0) {
    body.data = data;
  }
  if (keepOutputs) {
    body.keep_outputs = true;
  }
  return body;
}

/** The fields of the "add a hub" form. */
export interface INewHub {
  name: string;
  url: string;
  token: string;
}

/** The add-a-hub form's labels, by field. */
export const HUB_LABELS: Record<keyof INewHub, string> = {
  name: 'Name',
  url: 'Hub URL',
  token: 'API token'
};

/**
 * The broker URL (ending with "/") of a hub URL or a broker URL, as the server computes it:
 * `https://h/`, `https://h/hub/` give `https://h/services/<service>/`; null if not http(s).
 */
export function brokerUrl(url: string, service = 'execplanner'): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return null;
  }
  let path = parsed.pathname.replace(/\/+$/, '');
  const at = path.indexOf('/services/');
  if (at >= 0 && path.length > at + '/services/'.length) {
    path = `${path}/`;
  } else if (path.endsWith('/services')) {
    path = `${path}/${service}/`;
  } else {
    path = `${path.replace(/\/hub$/, '')}/services/${service}/`;
  }
  return `${parsed.protocol}//${parsed.host}${path}`;
}

/** The service name in a broker URL (`…/services/<name>/`), else "execplanner". */
function serviceOf(hubs: readonly IHub[]): string {
  for (const hub of hubs) {
    const match = /\/services\/([^/]+)\/?$/.exec(hub.url);
    if (match) {
      return match[1];
    }
  }
  return 'execplanner';
}

/**
 * Check a hub to add; answers the trimmed fields or throws a `ValidationError` with every problem
 * (by field). The same hub (its broker URL) cannot be added twice under another name.
 */
export function validateNewHub(
  hub: INewHub,
  existing: readonly IHub[]
): INewHub {
  const name = hub.name.trim();
  const url = hub.url.trim();
  const token = hub.token.trim();
  const problems = new Problems();
  if (!name) {
    problems.add(
      'name',
      'Name: enter a short name for the hub (e.g. "astro-eu")'
    );
  } else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    problems.add(
      'name',
      "Name: use at most 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    );
  } else if (existing.some(h => h.own && h.name === name)) {
    problems.add(
      'name',
      `Name: "${name}" is your own hub; choose another name`
    );
  } else if (existing.some(h => h.kind === 'linked' && h.name === name)) {
    problems.add(
      'name',
      `Name: "${name}" is a hub your own hub links to; use "Link account" beside it, or choose another name`
    );
  }
  const broker = brokerUrl(url, serviceOf(existing));
  if (!url || broker === null) {
    problems.add(
      'url',
      /^[a-z]+:\/\//i.test(url)
        ? 'Hub URL: must start with https:// (or http://)'
        : "Hub URL: enter the hub's address, e.g. https://hub.example.org/"
    );
  } else {
    const same = existing.find(h => h.url === broker && h.name !== name);
    if (same) {
      problems.add(
        'url',
        same.own
          ? 'Hub URL: this is your own hub, already in the list'
          : `Hub URL: this hub is already in the list, as "${same.name}"`
      );
    }
  }
  if (!token) {
    problems.add(
      'token',
      'API token: paste an API token of your account on that hub (from its /hub/token page)'
    );
  }
  problems.throwAny();
  return { name, url, token };
}
