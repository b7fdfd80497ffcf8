/**
 * Linked accounts, as the panel decides about them: pure functions over the hubs the server
 * lists (no DOM, no server). A `linked` hub is a peer of the user's own hub, asked as the user's
 * own account there through their own hub, which holds the link's token: the browser only ever
 * opens the link page and reads the state.
 */
import { HubKind, IHub, LinkState } from '../types';

/** The name of the window the link page opens in (one at a time: a second Link reuses it). */
export const LINK_WINDOW = 'execplanner-link';

/** `own`, `added` or `linked` (an older server says only `own`). */
export function hubKind(hub: IHub): HubKind {
  if (hub.kind === 'own' || hub.kind === 'added' || hub.kind === 'linked') {
    return hub.kind;
  }
  return hub.own ? 'own' : 'added';
}

/** A linked hub's state; null for a hub that is not a linked one. */
export function linkState(hub: IHub): LinkState | null {
  if (hubKind(hub) !== 'linked') {
    return null;
  }
  const state = hub.link?.state;
  return state === 'linked' || state === 'expired' ? state : 'unlinked';
}

/** Whether the hub can be asked now: any hub but a linked one whose account is not linked. */
export function canAsk(hub: IHub): boolean {
  const state = linkState(hub);
  return state === null || state === 'linked';
}

/** `url` when it is an http(s) URL (never `javascript:` and the like); else null. */
export function httpUrl(url: unknown): string | null {
  if (typeof url !== 'string') {
    return null;
  }
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:'
      ? parsed.href
      : null;
  } catch {
    return null;
  }
}

/** What the hub's row shows about its link: a button (Link account, Link again, Unlink) and the
 * state's text. Null for a hub that is not a linked one. */
export interface ILinkView {
  state: LinkState;
  /** The state in words: "linked as alice-b", "not linked", "link expired or revoked". */
  text: string;
  /** The button: `link` opens the link page, `unlink` asks first. */
  action: 'link' | 'unlink';
  /** Its visible label. */
  label: string;
  /** Its accessible name (contains the label). */
  ariaLabel: string;
  /** Its tooltip. */
  title: string;
  /** False when the link page cannot be opened (the server gave no usable address). */
  enabled: boolean;
}

export function linkView(hub: IHub): ILinkView | null {
  const state = linkState(hub);
  if (state === null) {
    return null;
  }
  const name = hub.name;
  if (state === 'linked') {
    const user = hub.link?.user;
    return {
      state,
      text: user ? `linked as ${user}` : 'linked',
      action: 'unlink',
      label: 'Unlink',
      ariaLabel: `Unlink ${name}`,
      title: `Revoke the link on ${name} and forget it`,
      enabled: true
    };
  }
  const enabled = httpUrl(hub.link?.authorize) !== null;
  const again = state === 'expired';
  const label = again ? 'Link again' : 'Link account';
  return {
    state,
    text: again ? 'link expired or revoked' : 'not linked',
    action: 'link',
    label,
    ariaLabel: `${label} on ${name}`,
    title: enabled
      ? `Log in at ${name} (in a new window) to ask it as yourself`
      : `${name} cannot be linked now: your hub gave no link page`,
    enabled
  };
}

/** A message the link page posts to the panel's window when it is done. */
export interface ILinkMessage {
  event: 'linked' | 'link-failed';
  hub: string | null;
  user: string | null;
  message: string | null;
}

/**
 * The link page's message (`{execplanner: "linked" | "link-failed", hub, user?, message?}`), when
 * it comes from `origin` equal to `expectedOrigin` (the panel's own); null for any other message.
 */
export function linkMessage(
  data: unknown,
  origin: string,
  expectedOrigin: string
): ILinkMessage | null {
  if (origin !== expectedOrigin || !data || typeof data !== 'object') {
    return null;
  }
  const doc = data as Record<string, unknown>;
  const event = doc.execplanner;
  if (event !== 'linked' && event !== 'link-failed') {
    return null;
  }
  const text = (value: unknown): string | null =>
    typeof value === 'string' && value ? value.slice(0, 500) : null;
  return {
    event,
    hub: text(doc.hub),
    user: text(doc.user),
    message: text(doc.message)
  };
}

/** A failed call's (or an answer's) `link`: `unlinked` or `expired`; null otherwise. */
export function linkOf(data: unknown): LinkState | null {
  const link =
    data && typeof data === 'object' && 'link' in data
      ? (data as { link: unknown }).link
      : null;
  return link === 'unlinked' || link === 'expired' ? link : null;
}

/** What the panel says when a hub turned out to need linking (again). */
export function relinkNotice(hub: string, state: LinkState): string {
  return state === 'expired'
    ? `${hub}: your link has expired or was revoked there; choose "Link again" beside it.`
    : `${hub}: your account there is not linked; choose "Link account" beside it.`;
}

/** A copy of `hub` with its link in `state` (a hub that is not a linked one: `hub` itself). */
export function withLinkState(hub: IHub, state: LinkState): IHub {
  if (hubKind(hub) !== 'linked') {
    return hub;
  }
  const link = hub.link ?? {
    state,
    user: null,
    authorize: null,
    expires_at: null,
    message: null
  };
  return { ...hub, link: { ...link, state, user: null } };
}
