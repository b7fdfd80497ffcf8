/**
 * The offers table: every offer in so far, sorted as chosen, each with its profile's description,
 * why it is the size it is, its start in local time, its expiry countdown (ticking every second)
 * and **Accept** (named for the hub and the start, for screen readers). The panel scrolls to the
 * table as offers arrive.
 */
import * as React from 'react';

import { AnswersModel } from '../model/answers';
import { OfferTableModel } from '../model/table';
import {
  countdownText,
  formatAccelerators,
  formatDuration,
  formatStart,
  isExpired
} from '../format';
import { formatTime, readableMessages } from '../messages';
import {
  costDetails,
  costText,
  IAskedSize,
  isSortKey,
  proximityText,
  sizeNotes,
  SORT_KEYS,
  SORT_LABELS
} from '../offers';
import { IOffer } from '../types';
import { useNow } from './hooks';

/** "14:05 CET (in 1 h)", or "now (14:05 CET)". */
export function startText(start: string, now: number): string {
  const relative = formatStart(start, now);
  const time = formatTime(start, { now });
  return relative === 'now' ? `now (${time})` : `${time} (${relative})`;
}

function OfferRow({
  offer,
  now,
  asked,
  onAccept
}: {
  offer: IOffer;
  now: number;
  asked: IAskedSize | null;
  onAccept: (offer: IOffer) => void;
}): JSX.Element {
  const expired = isExpired(offer.expires, now);
  const description = offer.profile_about?.description;
  const notes = [
    ...sizeNotes(offer, asked),
    ...readableMessages(offer.notes ?? [])
  ];
  const start = startText(offer.start, now);
  return (
    <tr
      data-testid="ep-offer"
      data-hub={offer.hub}
      data-uuid={offer.uuid}
      data-start={offer.start}
      className={expired ? 'jp-mod-expired' : ''}
    >
      <td>{offer.hub}</td>
      <td>
        <strong>{offer.profile}</strong>
        {description && (
          <div className="jp-execplanner-muted" data-testid="ep-profile-about">
            {description}
          </div>
        )}
        {notes.map((note, i) => (
          <div key={i} className="jp-execplanner-note">
            {note}
          </div>
        ))}
      </td>
      <td className="jp-execplanner-num">{offer.cores}</td>
      <td className="jp-execplanner-num">{offer.memory} GiB</td>
      <td>{formatAccelerators(offer.accelerators)}</td>
      <td data-testid="ep-offer-start">{start}</td>
      <td>{formatDuration(offer.duration)}</td>
      <td title={costDetails(offer)}>{costText(offer)}</td>
      <td>{proximityText(offer)}</td>
      <td
        className="jp-execplanner-num"
        title={`until ${formatTime(offer.expires, { now })}`}
      >
        {countdownText(offer.expires, now)}
      </td>
      <td>
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="ep-accept"
          aria-label={`Accept offer from hub ${offer.hub}, ${offer.profile}, starting ${start}`}
          disabled={expired}
          onClick={() => onAccept(offer)}
        >
          Accept
        </button>
      </td>
    </tr>
  );
}

/** Scroll the panel (its own scroller: Lumino's ancestors hide their overflow) so that `element`
 * is at the top. */
function scrollToTop(element: HTMLElement | null): void {
  const scroller = element?.closest('.jp-execplanner-Widget');
  if (!element || !scroller) {
    return;
  }
  const offset =
    element.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
  scroller.scrollTop += offset;
}

export function Offers({
  answers,
  table,
  onAccept
}: {
  answers: AnswersModel;
  table: OfferTableModel;
  onAccept: (offer: IOffer) => void;
}): JSX.Element | null {
  const now = useNow(1000);
  const offers = table.offers;
  const ref = React.useRef<HTMLDivElement>(null);
  const shown = React.useRef(0);
  React.useEffect(() => {
    // bring the offers into view as they arrive (they are below the form; the table may only
    // overflow the panel once a later hub's offers are in)
    if (offers.length > shown.current) {
      scrollToTop(ref.current);
    }
    shown.current = offers.length;
  }, [offers.length]);
  if (answers.answers.length === 0) {
    return null;
  }
  const needs = answers.needs;
  const asked = needs ? { cores: needs.cores, memory: needs.memory } : null;
  return (
    <div className="jp-execplanner-offers" ref={ref}>
      <label>
        Sort by{' '}
        <select
          data-testid="ep-sort"
          value={table.sortKey}
          onChange={e => {
            const value = e.currentTarget.value;
            if (isSortKey(value)) {
              table.sortKey = value;
            }
          }}
        >
          {SORT_KEYS.map(key => (
            <option key={key} value={key}>
              {SORT_LABELS[key]}
            </option>
          ))}
        </select>
      </label>
      {offers.length === 0 ? (
        <p className="jp-execplanner-muted">
          {answers.asking
            ? 'No offers yet: waiting for the other hubs.'
            : "No offers: see each hub's answer above."}
        </p>
      ) : (
        <table data-testid="ep-offers">
          <caption className="jp-execplanner-muted">
            Offers are held for you until they expire; a new Ask or an Accept
            releases the others.
          </caption>
          <thead>
            <tr>
              <th>Hub</th>
              <th>Profile</th>
              <th>Cores</th>
              <th>Memory</th>
              <th>Accelerators</th>
              <th>Start</th>
              <th>Duration</th>
              <th>Cost</th>
              <th>Data</th>
              <th>Expires in</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {offers.map(offer => (
              <OfferRow
                key={`${offer.hub}/${offer.uuid}`}
                offer={offer}
                now={now}
                asked={asked}
                onAccept={onAccept}
              />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
