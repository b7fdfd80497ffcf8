/**
 * Pure functions over answers and offers: flattening the hubs' answers into table rows, sorting
 * offers, and the text of the cost and data cells (the other figures' text: ./format.ts). No DOM,
 * no server.
 */
import {
  formatBytes,
  formatDuration,
  formatFigure,
  formatSeconds
} from './format';
import { AnswerRowStatus, IAnswer, IFigure, IOffer, LinkState } from './types';

/** Figure URNs (the contract's "Figure URNs"). */
export const URN = {
  monetary: 'urn:ivoa:calycopis:cost:monetary',
  energy: 'urn:ivoa:calycopis:cost:energy',
  carbon: 'urn:ivoa:calycopis:cost:carbon',
  dataBytes: 'urn:execplanner:metric:data-bytes',
  dataTransferTime: 'urn:execplanner:metric:data-transfer-time',
  dataLocal: 'urn:execplanner:metric:data-local'
} as const;

export const SORT_KEYS = [
  'start',
  'cores',
  'memory',
  'cost',
  'proximity'
] as const;
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
  /** One line: "2 offers in 0.31 s", "no offer", "in 5 s" (timeout), "after 0.05 s" (error), "asking…". */
  summary: string;
  /** The reasons (NO), the timeout or error text; empty for YES. */
  messages: string[];
  /** A linked hub whose account must be linked (again): shown as that, not as an error. */
  link?: LinkState | null;
}

/**
 * The answers' rows, one per hub, in the order asked (`asked`; answers of other hubs follow in
 * their own order): a hub of `asked` without an answer yet gets a row with status `asking`.
 */
export function answerRows(
  answers: readonly IAnswer[],
  asked: readonly string[] = []
): IAnswerRow[] {
  const byHub = new Map(answers.map(answer => [answer.hub, answer]));
  const order = [...new Set([...asked, ...answers.map(answer => answer.hub)])];
  return order.map(hub => {
    const answer = byHub.get(hub);
    if (!answer) {
      return {
        hub,
        status: 'asking',
        seconds: Number.NaN,
        summary: 'asking…',
        messages: []
      };
    }
    return {
      hub: answer.hub,
      status: answer.status,
      seconds: answer.seconds,
      summary: answerSummary(answer),
      messages: answer.status === 'YES' ? [] : [...answer.messages],
      link: answer.status === 'YES' ? null : (answer.link ?? null)
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
      return `in ${took}`;
    case 'error':
      return `after ${took}`;
  }
}

/** Every offer of every YES answer, each tagged with its hub (the answer's, when missing). */
export function allOffers(answers: readonly IAnswer[]): IOffer[] {
  return answers.flatMap(answer =>
    answer.status === 'YES'
      ? answer.offers.map(offer => ({ ...offer, hub: offer.hub || answer.hub }))
      : []
  );
}

/** The figure of this type, if the list has one. */
export function figure(
  figures: readonly IFigure[] | undefined,
  type: string
): IFigure | undefined {
  return (figures ?? []).find(f => f.type === type);
}

/** A figure's upper value (max, else min), or undefined when it has none. */
function upper(f: IFigure | undefined): number | undefined {
  if (!f) {
    return undefined;
  }
  const value = f.max ?? f.min;
  return typeof value === 'number' && Number.isFinite(value)
    ? value
    : undefined;
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
  cost: (a, b) =>
    ascending(
      upper(figure(a.costs, URN.monetary)),
      upper(figure(b.costs, URN.monetary))
    ) || byStart(a, b),
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

/** The cost cell: the monetary cost, else the first cost given; "—" when the offer has none. */
export function costText(offer: IOffer): string {
  const f = figure(offer.costs, URN.monetary) ?? (offer.costs ?? [])[0];
  return f ? formatFigure(f) : '—';
}

/** Every cost of the offer on its own line (the cost cell's tooltip). */
export function costDetails(offer: IOffer): string {
  return (offer.costs ?? [])
    .map(f => `${f.description || f.type}: ${formatFigure(f)}`)
    .join('\n');
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

/** What the ask asked for, as far as an offer's size is explained against it. */
export interface IAskedSize {
  cores: { min: number; max: number };
  memory: { min: number; max: number };
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Why an offer is the size it is, when it is smaller than it could be: less than the most asked
 * for ("1 of up to 2 cores: the rest is in use then"), or what was asked for on a profile that
 * allows more ("2 cores: what you asked for; this profile allows up to 8"). Empty when there is
 * nothing to explain.
 */
export function sizeNotes(
  offer: IOffer,
  asked: IAskedSize | null | undefined
): string[] {
  if (!asked) {
    return [];
  }
  const about = offer.profile_about ?? null;
  const notes: string[] = [];
  const parts: [
    number,
    { min: number; max: number },
    number | null,
    string,
    string
  ][] = [
    [offer.cores, asked.cores, about?.cores_max ?? null, 'core', 'cores'],
    [offer.memory, asked.memory, about?.memory_max ?? null, 'GiB', 'GiB']
  ];
  for (const [got, range, profileMax, one, many] of parts) {
    if (typeof got !== 'number') {
      continue;
    }
    if (got < range.max) {
      notes.push(
        `${got} of up to ${plural(range.max, one, many)}: what is free on this hub at that start`
      );
    } else if (profileMax !== null && profileMax > got) {
      notes.push(
        `${plural(got, one, many)}: what you asked for; this profile allows up to ${profileMax}`
      );
    }
  }
  return notes;
}
