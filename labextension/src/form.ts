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

function number(
  value: string,
  field: string,
  options: { integer?: boolean; min: number }
): number {
  const text = value.trim();
  const parsed = text === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(parsed)) {
    throw new ValidationError(`${field}: enter a number (got "${value}")`);
  }
  if (options.integer && !Number.isInteger(parsed)) {
    throw new ValidationError(`${field}: enter a whole number (got ${value})`);
  }
  if (parsed < options.min) {
    throw new ValidationError(
      `${field}: must be at least ${options.min} (got ${value})`
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
 * Throws a `ValidationError` naming the field for anything missing or out of range.
 */
export function buildAskBody(
  form: IForm,
  hubs: readonly string[],
  path: string
): IAskBody {
  if (!path) {
    throw new ValidationError(
      'notebook: none chosen. Right-click a notebook in the file browser and choose "Run elsewhere…"'
    );
  }
  if (hubs.length === 0) {
    throw new ValidationError('hubs: tick at least one hub to ask');
  }
  const coresMin = number(form.coresMin, 'cores min', {
    integer: true,
    min: 1
  });
  const coresMax = number(form.coresMax || form.coresMin, 'cores max', {
    integer: true,
    min: 1
  });
  if (coresMax < coresMin) {
    throw new ValidationError(
      `cores max: must be at least cores min (${coresMin})`
    );
  }
  const memoryMin = number(form.memoryMin, 'memory min (GiB)', {
    integer: true,
    min: 1
  });
  const memoryMax = number(
    form.memoryMax || form.memoryMin,
    'memory max (GiB)',
    { integer: true, min: 1 }
  );
  if (memoryMax < memoryMin) {
    throw new ValidationError(
      `memory max (GiB): must be at least memory min (${memoryMin})`
    );
  }
  const gpus = number(form.gpus || '0', 'GPUs', { integer: true, min: 0 });
  const minutes = number(form.durationMinutes, 'duration (minutes)', {
    min: 1
  });
  const timeout = number(
    form.timeout || String(DEFAULTS.timeout),
    'timeout (s)',
    { min: 0.1 }
  );
  const earliest = localToISO(form.startEarliest, 'start earliest');
  const latest = localToISO(form.startLatest, 'start latest');
  if (earliest && latest && Date.parse(latest) < Date.parse(earliest)) {
    throw new ValidationError(
      'start latest: must not be before start earliest'
    );
  }
  const body: IAskBody = {
    hubs: [...hubs],
    path,
    cores: { min: coresMin, max: coresMax },
    memory: { min: memoryMin, max: memoryMax },
    gpus,
    duration: Math.round(minutes * 60),
    timeout
  };
  if (earliest || latest) {
    body.start = { earliest, latest };
  }
  const data = parseDataLines(form.data ?? '');
  if (data.length > 0) {
    body.data = data;
  }
  return body;
}

/** The fields of the "add a hub" form. */
export interface INewHub {
  name: string;
  url: string;
  token: string;
}

/** Check a hub to add; answers the trimmed fields or throws a `ValidationError` naming the field. */
export function validateNewHub(
  hub: INewHub,
  existing: readonly IHub[]
): INewHub {
  const name = hub.name.trim();
  const url = hub.url.trim();
  const token = hub.token.trim();
  if (!name) {
    throw new ValidationError(
      'name: enter a short name for the hub (e.g. "astro-eu")'
    );
  }
  if (/[/?#%\\]/.test(name) || name.length > 64) {
    throw new ValidationError(
      'name: use at most 64 characters, without / ? # % or \\'
    );
  }
  if (existing.some(h => h.own && h.name === name)) {
    throw new ValidationError(
      `name: "${name}" is your own hub; choose another name`
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError(
      "broker URL: enter the hub's URL, e.g. https://hub.example.org/"
    );
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ValidationError(
      'broker URL: must start with https:// (or http://)'
    );
  }
  if (!token) {
    throw new ValidationError(
      'token: paste an API token of your account on that hub'
    );
  }
  return { name, url, token };
}
