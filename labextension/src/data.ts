/**
 * The request form's data field as pure functions: one entry a line (a URL, an IVOA identifier,
 * an S3 or a Rucio object, optionally named), read into the `data` items of the ask body, each
 * with a unique name.
 */
import { IDataItem, ValidationError } from './types';

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
  const [stem, ext] =
    dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
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
      throw new ValidationError(
        `${where}: "${entry}" has no host; write e.g. https://archive.example.org/cat.fits`
      );
    }
    return {
      location: entry,
      segment: lastSegment(url.pathname) || url.hostname
    };
  }
  if (lower.startsWith('ivo://')) {
    const rest = entry.slice('ivo://'.length);
    if (!rest || /\s/.test(rest)) {
      throw new ValidationError(
        `${where}: "${entry}" is not an IVOA identifier; write e.g. ivo://example.org/survey?dr1`
      );
    }
    return { ivoid: entry, segment: lastSegment(rest) };
  }
  if (lower.startsWith('s3://')) {
    const rest = entry.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+/, '');
    if (!bucket || !key) {
      throw new ValidationError(
        `${where}: "${entry}" needs a bucket and an object key; write s3://bucket/path/to/object`
      );
    }
    return { s3: { bucket, key }, segment: lastSegment(key) };
  }
  if (lower.startsWith('rucio:')) {
    const rest = entry.slice('rucio:'.length);
    const colon = rest.indexOf(':');
    const scope = colon < 0 ? '' : rest.slice(0, colon);
    const name = colon < 0 ? '' : rest.slice(colon + 1);
    if (!scope || !name) {
      throw new ValidationError(
        `${where}: "${entry}" needs a scope and a name; write rucio:scope:name`
      );
    }
    return { rucio: { scope, name }, segment: lastSegment(name) };
  }
  throw new ValidationError(
    `${where}: "${entry}" is not a data reference; ${DATA_FORMS}`
  );
}

/**
 * The data field: one entry a line, an `http(s)://` URL, `ivo://…` (an IVOA identifier),
 * `s3://bucket/key` or `rucio:scope:name`, each optionally after `name=`; blank lines are ignored.
 * Without a name, the entry's last path segment is used, made unique (`cat.fits`, `cat-2.fits`).
 * Throws a `ValidationError` naming the line ("Data line 2: …").
 */
export function parseDataLines(text: string): IDataItem[] {
  const entries: { line: number; name: string | null; ref: DataRef }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') {
      return;
    }
    const where = `Data line ${i + 1}`;
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
        throw new ValidationError(
          `${where}: nothing after "${name}="; ${DATA_FORMS}`
        );
      }
    }
    entries.push({ line: i + 1, name, ref: parseDataRef(entry, where) });
  });
  if (entries.length > MAX_DATA) {
    throw new ValidationError(
      `data: at most ${MAX_DATA} entries (got ${entries.length}); remove some lines`
    );
  }
  const taken = new Set<string>();
  for (const { line, name } of entries) {
    if (name === null) {
      continue;
    }
    if (taken.has(name)) {
      throw new ValidationError(
        `Data line ${line}: the name "${name}" is used twice; give each entry its own name`
      );
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
