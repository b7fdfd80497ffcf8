/**
 * The offers table: every offer of every hub that answered, in the order the user chose.
 */
import { allOffers, SortKey, sortOffers } from '../offers';
import { IOffer } from '../types';
import { AnswersModel } from './answers';
import { State } from './state';

export class OfferTableModel extends State {
  /** A table over the answers of `answers` (which it reads, never changes). */
  constructor(answers: AnswersModel) {
    super();
    this._answers = answers;
  }

  get sortKey(): SortKey {
    return this._sortKey;
  }

  set sortKey(value: SortKey) {
    this._sortKey = value;
    this.emit();
  }

  /** The offers in so far, in the chosen order (ties by start, then as they arrived). */
  get offers(): IOffer[] {
    return sortOffers(allOffers(this._answers.received), this._sortKey);
  }

  private readonly _answers: AnswersModel;
  private _sortKey: SortKey = 'start';
}
