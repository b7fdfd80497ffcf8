/**
 * The request form and the "add a hub" form as pure functions: defaults, checks that name the
 * field and the fix, and the body of `POST execplanner/ask`.
 */
import { IAskBody, IDataItem, IHub } from './types';

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

/** A form or hub check that failed; the message names the field and the fix. */
export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

function number(value: string, field: string, options: { integer?: boolean; min: number }): number {
  const text = value.trim();
  const parsed = text === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(parsed)) {
    throw new ValidationError(`${field}: enter a number (got "${value}")`);
  }
  if (options.integer && !Number.isInteger(parsed)) {
    throw new ValidationError(`${field}: enter a whole number (got ${value})`);
  }
  if (parsed < options.min) {
    throw new ValidationError(`${field}: must be at least ${options.min} (got ${value})`);
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
export function buildAskBody(form: IForm, hubs: readonly string[], path: string): IAskBody {
  if (!path) {
    throw new ValidationError(
      'notebook: none chosen. Right-click a notebook in the file browser and choose "Run elsewhere…"'
    );
  }
  if (hubs.length === 0) {
    throw new ValidationError('hubs: tick at least one hub to ask');
  }
  const coresMin = number(form.coresMin, 'cores min', { integer: true, min: 1 });
  const coresMax = number(form.coresMax || form.coresMin, 'cores max', { integer: true, min: 1 });
  if (coresMax < coresMin) {
    throw new ValidationError(`cores max: must be at least cores min (${coresMin})`);
  }
  const memoryMin = number(form.memoryMin, 'memory min (GiB)', { integer: true, min: 1 });
  const memoryMax = number(form.memoryMax || form.memoryMin, 'memory max (GiB)', { integer: true, min: 1 });
  if (memoryMax < memoryMin) {
    throw new ValidationError(`memory max (GiB): must be at least memory min (${memoryMin})`);
  }
  const gpus = number(form.gpus || '0', 'GPUs', { integer: true, min: 0 });
  const minutes = number(form.durationMinutes, 'duration (minutes)', { min: 1 });
  const timeout = number(form.timeout || String(DEFAULTS.timeout), 'timeout (s)', { min: 0.1 });
  const earliest = localToISO(form.startEarliest, 'start earliest');
  const latest = localToISO(form.startLatest, 'start latest');
  if (earliest && latest && Date.parse(latest) < Date.parse(earliest)) {
    throw new ValidationError('start latest: must not be before start earliest');
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

/** At most this many data resources in one request (the server's limit too). */
export const MAX_DATA = 20;

/** A data resource's name: the folder `/data/<name>` it appears in on the hub. */
const DATA_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
/** `name=` in front of an entry (a URL's own `=` comes after a `:` or a `/`). */
const NAME_PREFIX = /^([^\s:/=]+)\s*=\s*(.*)$/;

const DATA_FORMS =
  'write an https:// URL, ivo://authority/path, s3://bucket/key or rucio:scope:name, optionally after name=';

function lastSegment(text: string): string {
  const parts = text.split(/[/?#]+/).filter(p => p !== '');
  const last = parts.length ? parts[parts.length - 1] : '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** A resource name made from a path segment: unsafe characters become "_"; "data" when nothing is left. */
export function dataName(segment: string): string {
  const safe = segment
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/^[.-]+/, '')
    .slice(0, 60);
  return safe || 'data';
}

/** `name` if it is free, else `name-2`, `name-3`, … (before the extension: `cat-2.fits`). */
function unique(name: string, taken: Set<string>): string {
  if (!taken.has(name)) {
    return name;
  }
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 2; ; i++) {
    const candidate = `${stem}-${i}${ext}`;
    if (!taken.has(candidate)) {
      return candidate;
    }
  }
}

type DataRef = { segment: string } & (
  | { location: string }
  | { ivoid: string }
  | { s3: { bucket: string; key: string } }
  | { rucio: { scope: string; name: string } }
);

/** One entry without its name; throws a `ValidationError` saying what is wrong with it. */
function parseDataRef(entry: string, where: string): DataRef {
  const lower = entry.toLowerCase();
  if (lower.startsWith('http://') || lower.startsWith('https://')) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ValidationError(`${where}: "${entry}" is not a valid URL`);
    }
    if (!url.hostname) {
      throw new ValidationError(`${where}: "${entry}" has no host; write e.g. https://archive.example.org/cat.fits`);
    }
    return { location: entry, segment: lastSegment(url.pathname) || url.hostname };
  }
  if (lower.startsWith('ivo://')) {
    const rest = entry.slice('ivo://'.length);
    if (!rest || /\s/.test(rest)) {
      throw new ValidationError(`${where}: "${entry}" is not an IVOA identifier; write e.g. ivo://example.org/survey?dr1`);
    }
    return { ivoid: entry, segment: lastSegment(rest) };
  }
  if (lower.startsWith('s3://')) {
    const rest = entry.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+/, '');
    if (!bucket || !key) {
      throw new ValidationError(`${where}: "${entry}" needs a bucket and an object key; write s3://bucket/path/to/object`);
    }
    return { s3: { bucket, key }, segment: lastSegment(key) };
  }
  if (lower.startsWith('rucio:')) {
    const rest = entry.slice('rucio:'.length);
    const colon = rest.indexOf(':');
    const scope = colon < 0 ? '' : rest.slice(0, colon);
    const name = colon < 0 ? '' : rest.slice(colon + 1);
    if (!scope || !name) {
      throw new ValidationError(`${where}: "${entry}" needs a scope and a name; write rucio:scope:name`);
    }
    return { rucio: { scope, name }, segment: lastSegment(name) };
  }
  throw new ValidationError(`${where}: "${entry}" is not a data reference; ${DATA_FORMS}`);
}

/**
 * The data field: one entry a line, an `http(s)://` URL, `ivo://…` (an IVOA identifier),
 * `s3://bucket/key` or `rucio:scope:name`, each optionally after `name=`; blank lines are ignored.
 * Without a name, the entry's last path segment is used, made unique (`cat.fits`, `cat-2.fits`).
 * Throws a `ValidationError` naming the line ("data line 2: …").
 */
export function parseDataLines(text: string): IDataItem[] {
  const entries: { line: number; name: string | null; ref: DataRef }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') {
      return;
    }
    const where = `data line ${i + 1}`;
    const prefixed = NAME_PREFIX.exec(line);
    let name: string | null = null;
    let entry = line;
    if (prefixed) {
      name = prefixed[1];
      entry = prefixed[2].trim();
      if (!DATA_NAME.test(name)) {
        throw new ValidationError(
          `${where}: the name "${name}" must be 1 to 64 letters, digits, - _ or . (not starting with - or .)`
        );
      }
      if (!entry) {
        throw new ValidationError(`${where}: nothing after "${name}="; ${DATA_FORMS}`);
      }
    }
    entries.push({ line: i + 1, name, ref: parseDataRef(entry, where) });
  });
  if (entries.length > MAX_DATA) {
    throw new ValidationError(`data: at most ${MAX_DATA} entries (got ${entries.length}); remove some lines`);
  }
  const taken = new Set<string>();
  for (const { line, name } of entries) {
    if (name === null) {
      continue;
    }
    if (taken.has(name)) {
      throw new ValidationError(`data line ${line}: the name "${name}" is used twice; give each entry its own name`);
    }
    taken.add(name);
  }
  return entries.map(({ name, ref }) => {
    const { segment, ...where } = ref;
    let chosen = name;
    if (chosen === null) {
      chosen = unique(dataName(segment), taken);
      taken.add(chosen);
    }
    return { name: chosen, ...where };
  });
}

/** The fields of the "add a hub" form. */
export interface INewHub {
  name: string;
  url: string;
  token: string;
}

/** Check a hub to add; answers the trimmed fields or throws a `ValidationError` naming the field. */
export function validateNewHub(hub: INewHub, existing: readonly IHub[]): INewHub {
  const name = hub.name.trim();
  const url = hub.url.trim();
  const token = hub.token.trim();
  if (!name) {
    throw new ValidationError('name: enter a short name for the hub (e.g. "astro-eu")');
  }
  if (/[/?#%\\]/.test(name) || name.length > 64) {
    throw new ValidationError('name: use at most 64 characters, without / ? # % or \\');
  }
  if (existing.some(h => h.own && h.name === name)) {
    throw new ValidationError(`name: "${name}" is your own hub; choose another name`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError('broker URL: enter the hub\'s URL, e.g. https://hub.example.org/');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ValidationError('broker URL: must start with https:// (or http://)');
  }
  if (!token) {
    throw new ValidationError('token: paste an API token of your account on that hub');
  }
  return { name, url, token };
}
