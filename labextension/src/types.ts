/**
 * The JSON shapes of the labserver REST API (docs/lab-panel.md, the "Run elsewhere" contract):
 * what `execplanner/...` routes on the user's Jupyter server send and accept.
 */

/** Where a hub of the list comes from: the user's own hub, one they added (with a token), or a
 * peer of their own hub, asked as their linked account there (through their own hub). */
export type HubKind = 'own' | 'added' | 'linked';

/** The user's account on a peer of their own hub: `expired` (expired or revoked there) means
 * "link again". */
export type LinkState = 'linked' | 'unlinked' | 'expired';

/** A linked hub's account, as the user's own hub says (its token stays there). */
export interface ILink {
  state: LinkState;
  /** The user's name on that hub, when linked. */
  user: string | null;
  /** The page that links the account (opened in a window of its own). */
  authorize: string | null;
  expires_at: string | null;
  message: string | null;
  /** That hub's own broker URL (calls go through the own hub). */
  url?: string | null;
}

/** A hub the user can ask; tokens never reach the browser. */
export interface IHub {
  name: string;
  /** The broker URL, ending with "/" (a linked hub: the own hub's relay to it). */
  url: string;
  /** The user's own hub (the one this server runs under). */
  own: boolean;
  has_token: boolean;
  /** `own`, `added` or `linked` (an older server does not say: own or added). */
  kind?: HubKind;
  /** A linked hub's account; null for the others. */
  link?: ILink | null;
}

/** The answer of `GET execplanner/hubs`. */
export interface IHubsResponse {
  hubs: IHub[];
  /** Why the own hub's linked hubs could not (all) be listed; the others are. */
  links_error?: string;
}

/** The answer of `POST execplanner/hubs/{name}/unlink`. */
export interface IUnlinkResponse {
  hub?: string;
  state?: string;
  /** Whether the token was revoked on that hub (false: the message says what to do). */
  revoked?: boolean;
  message?: string;
}

/** The answer of `POST execplanner/hubs`: the hub kept, and whose token it is (the check). */
export interface IAddedHub extends IHub {
  /** The hub user the token belongs to ("connected as alice"); null when not checked. */
  user: string | null;
}

/** What the broker says about an offer's profile (its `GET /`). */
export interface IProfileAbout {
  description: string | null;
  /** The most cores / GiB a server of the profile may have; null: no limit. */
  cores_max: number | null;
  memory_max: number | null;
}

/** One file an ask sends (`GET execplanner/files?path=`), as saved on the server. */
export interface IFileEntry {
  name: string;
  path: string;
  /** bytes */
  size: number;
  /** the notebook's outputs (cleared unless kept) */
  outputs?: number;
}

/** A cost or a metric figure on an offer (a min/max range with an optional unit). */
export interface IFigure {
  type: string;
  min: number | null;
  max: number | null;
  unit?: string | null;
  description?: string | null;
}

export interface IOffer {
  hub: string;
  uuid: string;
  url: string;
  profile: string;
  cores: number;
  /** GiB */
  memory: number;
  accelerators: Record<string, number>;
  start: string;
  /** seconds */
  duration: number;
  /** seconds */
  preparing?: number;
  expires: string;
  costs: IFigure[];
  metrics: IFigure[];
  notes: string[];
  /** the profile's description and limits, when the hub said */
  profile_about?: IProfileAbout | null;
}

export type AnswerStatus = 'YES' | 'NO' | 'timeout' | 'error';

/** An answer row's status: a hub's answer, or `asking` while it has not answered yet. */
export type AnswerRowStatus = AnswerStatus | 'asking';

/** One hub's answer to an ask. */
export interface IAnswer {
  hub: string;
  status: AnswerStatus;
  seconds: number;
  offerset: string | null;
  messages: string[];
  offers: IOffer[];
  /** A linked hub whose account is not linked (or must be linked again): not an error. */
  link?: LinkState | null;
}

export interface IAskResponse {
  answers: IAnswer[];
  request?: unknown;
}

/** The answer of `POST execplanner/prepare`: the v1.0 request, its notebook snapshotted. */
export interface IPrepareResponse {
  request: Record<string, unknown>;
}

export interface ISession {
  hub: string;
  uuid: string;
  url: string;
  phase: string;
  profile: string;
  cores: number;
  memory: number;
  accelerators: Record<string, number>;
  start: string;
  duration: number;
  expires: string;
  messages: string[];
  /** 0..100 */
  progress: number;
  open_url: string | null;
  terminal: boolean;
  /** Ended, but its server is still being stopped (unsaved work there is being lost). */
  stopping?: boolean;
}

export interface ISessionsResponse {
  sessions: ISession[];
  /** The hubs that could not be listed; `link`: the account there must be linked (again). */
  errors: { hub: string; message: string; link?: LinkState | null }[];
}

/**
 * A data resource the notebook needs (`POST execplanner/ask` `data` items): a name (letters,
 * digits, `-_.`; the resource appears read-only at `/data/<name>`) and exactly one of an http(s)
 * `location`, an IVOA `ivoid`, an `s3` object or a `rucio` object.
 */
export type IDataItem = { name: string } & (
  | { location: string }
  | { ivoid: string }
  | { s3: { bucket: string; key: string } }
  | { rucio: { scope: string; name: string } }
);

/** The request body of `POST execplanner/ask`. */
export interface IAskBody {
  hubs: string[];
  path: string;
  cores: { min: number; max: number };
  memory: { min: number; max: number };
  gpus: number;
  duration: number;
  start?: { earliest: string | null; latest: string | null };
  timeout: number;
  /** the data resources, when the form names any */
  data?: IDataItem[];
  /** send the cells' outputs too (by default the snapshot has none) */
  keep_outputs?: boolean;
}

/** The body of `POST execplanner/prepare`: the ask's body without `hubs` (and `timeout`, which
 * bounds the snapshot here). */
export type IPrepareBody = Omit<IAskBody, 'hubs'>;

/** The body of `POST execplanner/ask` with a prepared request: the panel sends one per hub. */
export interface IRequestAskBody {
  hubs: string[];
  request: Record<string, unknown>;
  timeout: number;
}

/**
 * How the panel talks to the server: `request(endPoint, init)` answers the parsed JSON body
 * (undefined for a 204) or throws an `APIError`. src/request.ts has the real one; tests pass a fake.
 */
export type RequestFunction = <T = unknown>(
  endPoint: string,
  init?: RequestInit
) => Promise<T>;

/** A failed call: `status` is the HTTP status (0 when the server could not be reached). */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** the form field the server's message is about (`name`, `url`, `token`), when it says */
    readonly field: string | null = null,
    /** a linked hub's account must be linked (again): `unlinked` or `expired` */
    readonly link: LinkState | null = null
  ) {
    super(message);
    this.name = 'APIError';
  }
}

/**
 * A form or hub check that failed; the message names the field and the fix. `fields` has every
 * problem found, by the form's field key, to show next to each field.
 */
export class ValidationError extends Error {
  constructor(
    message: string,
    readonly fields: Record<string, string> = {}
  ) {
    super(message);
    this.name = 'ValidationError';
  }
}
