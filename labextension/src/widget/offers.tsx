/**
 * The offers table: every offer in so far, sorted as chosen, each with its expiry countdown
 * (ticking every second) and **Accept**.
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
import {
  costDetails,
  costText,
  isSortKey,
  proximityText,
  SORT_KEYS,
  SORT_LABELS
} from '../offers';
import { IOffer } from '../types';
import { localTime, useNow } from './hooks';

function OfferRow({
  offer,
  now,
  onAccept
}: {
  offer: IOffer;
  now: number;
  onAccept: (offer: IOffer) => void;
}): JSX.Element {
  const expired = isExpired(offer.expires, now);
  return (
    <tr
      data-testid="ep-offer"
      data-hub={offer.hub}
      data-uuid={offer.uuid}
      className={expired ? 'jp-mod-expired' : ''}
    >
      <td>{offer.hub}</td>
      <td>
        {offer.profile}
        {(offer.notes ?? []).map((note, i) => (
          <div key={i} className="jp-execplanner-note">
            {note}
          </div>
        ))}
      </td>
      <td className="jp-execplanner-num">{offer.cores}</td>
      <td className="jp-execplanner-num">{offer.memory} GiB</td>
      <td>{formatAccelerators(offer.accelerators)}</td>
      <td title={localTime(offer.start)}>{formatStart(offer.start, now)}</td>
      <td>{formatDuration(offer.duration)}</td>
      <td title={costDetails(offer)}>{costText(offer)}</td>
      <td>{proximityText(offer)}</td>
      <td className="jp-execplanner-num" title={localTime(offer.expires)}>
        {countdownText(offer.expires, now)}
      </td>
      <td>
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="ep-accept"
          disabled={expired}
          onClick={() => onAccept(offer)}
        >
          Accept
        </button>
      </td>
    </tr>
  );
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
  if (answers.answers.length === 0) {
    return null;
  }
  return (
    <div className="jp-execplanner-offers">
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
                onAccept={onAccept}
              />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
