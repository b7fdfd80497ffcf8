/**
 * Pure functions over answers and offers: flattening the hubs' answers into table rows, sorting
 * offers, and the text of each cell (figures, countdowns, durations). No DOM, no server.
 */
import { AnswerRowStatus, IAnswer, IFigure, IOffer } from './types';

/** Figure URNs (the contract's "Figure URNs"). */
export const URN = {
  monetary: 'urn:ivoa:calycopis:cost:monetary',
  energy: 'urn:ivoa:calycopis:cost:energy',
  carbon: 'urn:ivoa:calycopis:cost:carbon',
  dataBytes: 'urn:execplanner:metric:data-bytes',
  dataTransferTime: 'urn:execplanner:metric:data-transfer-time',
  dataLocal: 'urn:execplanner:metric:data-local'
} as const;

export const SORT_KEYS = ['start', 'cores', 'memory', 'cost', 'proximity'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export const SORT_LABELS: Record<SortKey, string> = {
  start: 'Earliest start',
  cores: 'Most cores',
  memory: 'Most memory',
  cost: 'Lowest cost',
  proximity: 'Data closest'
};

export function isSortKey(value: string): value is SortKey {
  return (SORT_KEYS as readonly string[]).includes(value);
}

/** One hub's answer, as the panel shows it above the offer table. */
export interface IAnswerRow {
  hub: string;
  /** `asking` while the hub has not answered. */
  status: AnswerRowStatus;
  /** How long the hub took; NaN while asking. */
  seconds: number;
  /** One line: "2 offers in 0.31 s", "no offer", "no answer within 5 s", "error", "asking…". */
  summary: string;
  /** The reasons (NO), the timeout or error text; empty for YES. */
  messages: string[];
}

/**
 * The answers' rows, one per hub, in the order asked (`asked`; answers of other hubs follow in
 * their own order): a hub of `asked` without an answer yet gets a row with status `asking`.
 */
export function answerRows(answers: readonly IAnswer[], asked: readonly string[] = []): IAnswerRow[] {
  const byHub = new Map(answers.map(answer => [answer.hub, answer]));
  const order = [...new Set([...asked, ...answers.map(answer => answer.hub)])];
  return order.map(hub => {
    const answer = byHub.get(hub);
    if (!answer) {
      return { hub, status: 'asking', seconds: Number.NaN, summary: 'asking…', messages: [] };
    }
    return {
      hub: answer.hub,
      status: answer.status,
      seconds: answer.seconds,
      summary: answerSummary(answer),
      messages: answer.status === 'YES' ? [] : [...answer.messages]
    };
  });
}

function answerSummary(answer: IAnswer): string {
  const took = `${formatSeconds(answer.seconds)}`;
  switch (answer.status) {
    case 'YES': {
      const n = answer.offers.length;
      return `${n} offer${n === 1 ? '' : 's'} in ${took}`;
    }
    case 'NO':
      return `no offer (answered in ${took})`;
    case 'timeout':
      return `no answer within ${took}`;
    case 'error':
      return `error after ${took}`;
  }
}

/** Every offer of every YES answer, each tagged with its hub (the answer's, when missing). */
export function allOffers(answers: readonly IAnswer[]): IOffer[] {
  return answers.flatMap(answer =>
    answer.status === 'YES' ? answer.offers.map(offer => ({ ...offer, hub: offer.hub || answer.hub })) : []
  );
}

/** The figure of this type, if the list has one. */
export function figure(figures: readonly IFigure[] | undefined, type: string): IFigure | undefined {
  return (figures ?? []).find(f => f.type === type);
}

/** A figure's upper value (max, else min), or undefined when it has none. */
function upper(f: IFigure | undefined): number | undefined {
  if (!f) {
    return undefined;
  }
  const value = f.max ?? f.min;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function time(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/** Ascending with missing values (undefined) last. */
function ascending(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined) {
    return a === undefined ? (b === undefined ? 0 : 1) : -1;
  }
  return a - b;
}

/** The final tie-breakers: start, then hub, then profile (so the order is always the same). */
function byStart(a: IOffer, b: IOffer): number {
  return (
    time(a.start) - time(b.start) ||
    a.hub.localeCompare(b.hub) ||
    a.profile.localeCompare(b.profile) ||
    a.uuid.localeCompare(b.uuid)
  );
}

const COMPARATORS: Record<SortKey, (a: IOffer, b: IOffer) => number> = {
  start: byStart,
  cores: (a, b) => b.cores - a.cores || byStart(a, b),
  memory: (a, b) => b.memory - a.memory || byStart(a, b),
  cost: (a, b) => ascending(upper(figure(a.costs, URN.monetary)), upper(figure(b.costs, URN.monetary))) || byStart(a, b),
  proximity: (a, b) =>
    ascending(transferSeconds(a), transferSeconds(b)) ||
    // more data local first: compare negated fractions, missing last
    ascending(negate(localFraction(a)), negate(localFraction(b))) ||
    byStart(a, b)
};

/**
 * Seconds to move the request's data to the offer's platform: its data-transfer-time figure, or 0
 * when the offer says all data is local (data-local 1 or data-bytes 0); undefined when unknown.
 */
export function transferSeconds(offer: IOffer): number | undefined {
  const seconds = upper(figure(offer.metrics, URN.dataTransferTime));
  if (seconds !== undefined) {
    return seconds;
  }
  return localFraction(offer) === 1 ? 0 : undefined;
}

/** The fraction (0..1) of the request's data already on the platform: data-local, or 1 with
 * nothing to move (data-bytes 0); undefined when unknown. */
export function localFraction(offer: IOffer): number | undefined {
  const local = upper(figure(offer.metrics, URN.dataLocal));
  if (local !== undefined) {
    return local;
  }
  return upper(figure(offer.metrics, URN.dataBytes)) === 0 ? 1 : undefined;
}

function negate(value: number | undefined): number | undefined {
  return value === undefined ? undefined : -value;
}

/**
 * The offers in the order of `key`: `start` earliest first; `cores` and `memory` largest first;
 * `cost` lowest monetary cost (its max) first; `proximity` shortest data transfer time first (0 for
 * an offer with all data local), then the largest local fraction. Offers without the figure come last; ties go by start. A new array.
 */
export function sortOffers(offers: readonly IOffer[], key: SortKey): IOffer[] {
  return [...offers].sort(COMPARATORS[key]);
}

/** "4:05" (minutes:seconds), "1:02:03" past an hour, "expired" at or after `expires`. */
export function countdownText(expires: string, now: number): string {
  const end = Date.parse(expires);
  if (Number.isNaN(end)) {
    return '—';
  }
  const left = Math.floor((end - now) / 1000);
  if (left <= 0) {
    return 'expired';
  }
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Whether an offer can no longer be accepted. */
export function isExpired(expires: string, now: number): boolean {
  const end = Date.parse(expires);
  return !Number.isNaN(end) && end <= now;
}

/** "45 s", "0.31 s" (under 10 s, two decimals). */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    return '?';
  }
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${Math.round(seconds)} s`;
}

/** A duration in seconds as "45 min", "1 h", "2 h 30 min", "20 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '—';
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) {
    return `${m} min`;
  }
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/** A start time relative to now: "now" (past or within a minute), "in 12 min", "in 3 h 5 min". */
export function formatStart(start: string, now: number): string {
  const t = Date.parse(start);
  if (Number.isNaN(t)) {
    return '—';
  }
  const ahead = (t - now) / 1000;
  if (ahead < 60) {
    return 'now';
  }
  return `in ${formatDuration(ahead)}`;
}

/** "1.2 GB", "340 MB", "12 kB", "512 B" (decimal units). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** "1× nvidia.com/gpu", several joined by ", "; "—" for none. */
export function formatAccelerators(accelerators: Record<string, number> | undefined): string {
  const parts = Object.entries(accelerators ?? {})
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${count}× ${name}`);
  return parts.length ? parts.join(', ') : '—';
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** A figure as "0.12 EUR" or "0.10–0.12 EUR" (a range), unit omitted when unknown. */
export function formatFigure(f: IFigure): string {
  const unit = f.unit ? ` ${f.unit}` : '';
  const { min, max } = f;
  if (min !== null && max !== null && min !== max) {
    return `${formatNumber(min)}–${formatNumber(max)}${unit}`;
  }
  const value = max ?? min;
  return value === null ? '—' : `${formatNumber(value)}${unit}`;
}

/** The cost cell: the monetary cost, else the first cost given; "—" when the offer has none. */
export function costText(offer: IOffer): string {
  const f = figure(offer.costs, URN.monetary) ?? (offer.costs ?? [])[0];
  return f ? formatFigure(f) : '—';
}

/** Every cost of the offer on its own line (the cost cell's tooltip). */
export function costDetails(offer: IOffer): string {
  return (offer.costs ?? []).map(f => `${f.description || f.type}: ${formatFigure(f)}`).join('\n');
}

/**
 * The data cell: "local" when all the request's data is already there (data-local = 1 or nothing
 * to move), else the bytes to move and the estimated time ("1.2 GB, ~40 s"); "—" without figures.
 */
export function proximityText(offer: IOffer): string {
  const local = upper(figure(offer.metrics, URN.dataLocal));
  const bytes = upper(figure(offer.metrics, URN.dataBytes));
  const seconds = upper(figure(offer.metrics, URN.dataTransferTime));
  if (local === 1 || bytes === 0) {
    return 'local';
  }
  const parts: string[] = [];
  if (bytes !== undefined) {
    parts.push(formatBytes(bytes));
  }
  if (seconds !== undefined) {
    parts.push(`~${formatDuration(seconds)}`);
  }
  if (parts.length === 0 && local !== undefined) {
    parts.push(`${Math.round(local * 100)}% local`);
  }
  return parts.length ? parts.join(', ') : '—';
}
