/**
 * What a person reads: the hubs' messages with the fields named as the form names them
 * (`compute.cores.min` → "Cores min"), ISO 8601 times in the browser's local time with the zone,
 * ISO 8601 durations in words, each message once; and the one time format of the panel. Pure
 * functions, no DOM.
 */
import { formatDuration } from './format';

/** The form's labels (src/widget/form.tsx), by the request's field paths that mean them. */
export const FIELD_LABELS: Record<string, string> = {
  'compute.cores.min': 'Cores min',
  'compute.cores.max': 'Cores max',
  'compute.cores': 'Cores',
  'compute.memory.min': 'Memory min (GiB)',
  'compute.memory.max': 'Memory max (GiB)',
  'compute.memory': 'Memory',
  'compute.accelerators': 'GPUs',
  'compute.volumes': 'Data',
  'cores.min': 'Cores min',
  'cores.max': 'Cores max',
  'memory.min': 'Memory min (GiB)',
  'memory.max': 'Memory max (GiB)',
  'schedule.requested.start': 'Start',
  'schedule.requested.duration': 'Duration',
  'schedule.requested': 'Start and duration',
  'start.earliest': 'Start earliest',
  'start.latest': 'Start latest',
  'executable.location': 'Notebook',
  'executable.requirements': 'requirements.txt',
  executable: 'Notebook'
};

const PATHS = Object.keys(FIELD_LABELS).sort((a, b) => b.length - a.length);
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// a path, with an optional index ("compute.accelerators[0]"), not inside a longer word
const PATH_RE = new RegExp(
  `(?<![\\w.])(${PATHS.map(escape).join('|')})(\\[\\d+\\])?(?![\\w])`,
  'g'
);
const DATA_RE = /(?<![\w.])data\[(\d+)\](?:\.[a-z_]+)*/g;
const INSTANT_RE =
  /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})\b/g;
const DURATION_RE =
  /\bP(?:(\d+)D)?T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?\b/g;

/** The form's label for a request path ("compute.cores.min" → "Cores min"); the path when none. */
export function fieldLabel(path: string): string {
  const data = /^data\[(\d+)\]/.exec(path);
  if (data) {
    return `Data line ${Number(data[1]) + 1}`;
  }
  const bare = path.replace(/\[\d+\]$/, '');
  return FIELD_LABELS[bare] ?? path;
}

/** Options of `formatTime` (the tests fix them; the panel uses the browser's). */
export interface ITimeOptions {
  locale?: string;
  timeZone?: string;
  /** Date.now() by default: a time on another day than this one shows its date. */
  now?: number;
}

/**
 * The panel's one time format: "14:05 CET" today, "Tue 8 Dec, 14:05 CET" on another day, in the
 * browser's time zone (named); the text itself when it is not a time.
 */
export function formatTime(iso: string, options: ITimeOptions = {}): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) {
    return iso;
  }
  const { locale, timeZone } = options;
  const now = options.now ?? Date.now();
  const day = new Intl.DateTimeFormat(locale ?? 'en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit'
  });
  const sameDay = day.format(t) === day.format(now);
  return new Intl.DateTimeFormat(locale, {
    timeZone,
    ...(sameDay ? {} : { weekday: 'short', day: 'numeric', month: 'short' }),
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short'
  }).format(t);
}

function isoDurationSeconds(match: RegExpExecArray | string[]): number {
  const [, d, h, m, s] = match;
  return (
    Number(d ?? 0) * 86400 +
    Number(h ?? 0) * 3600 +
    Number(m ?? 0) * 60 +
    Number(s ?? 0)
  );
}

/**
 * A hub's message as a person reads it: request paths as the form's labels, ISO 8601 instants in
 * local time with the zone, ISO 8601 durations in words ("PT1H30M" → "1 h 30 min").
 */
export function humanize(message: string, options: ITimeOptions = {}): string {
  return message
    .replace(DATA_RE, (_m, i: string) => `Data line ${Number(i) + 1}`)
    .replace(PATH_RE, (_m, path: string) => `"${fieldLabel(path)}"`)
    .replace(INSTANT_RE, iso => formatTime(iso, options))
    .replace(DURATION_RE, (...args: string[]) =>
      args[0] === 'PT' || args[0] === 'P'
        ? args[0]
        : formatDuration(isoDurationSeconds(args))
    );
}

/** The messages humanized, each once, in their first order. */
export function readableMessages(
  messages: readonly string[],
  options: ITimeOptions = {}
): string[] {
  return [...new Set(messages.map(m => humanize(m, options).trim()))].filter(
    m => m.length > 0
  );
}

/**
 * What a failed call to a hub means for the person asking: its token refused, the hub not
 * reachable; the message itself otherwise.
 */
export function hubFailureText(message: string): string {
  if (/\b(401|403)\b|Authorization: token|not authenticated/i.test(message)) {
    return (
      'This hub did not accept your token (it may have expired or been revoked): ' +
      'remove the hub and add it again with a new token from its /hub/token page.'
    );
  }
  if (
    /cannot connect|connection refused|name or service not known/i.test(message)
  ) {
    return `This hub could not be reached (${message}): it may be down; try again later.`;
  }
  return message;
}
