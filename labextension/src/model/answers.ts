/**
 * Asking the ticked hubs and their answers: `prepare` once (the notebook's snapshot and the
 * request), then one `ask` per hub, all at once, each answer shown as soon as it arrives.
 */
import { allOffers, answerRows, IAnswerRow } from '../offers';
import {
  IAnswer,
  IAskBody,
  IAskResponse,
  IOffer,
  IPrepareBody,
  IPrepareResponse,
  IRequestAskBody,
  LinkState,
  RequestFunction
} from '../types';
import { ErrorState } from './errors';
import { linkOf } from './links';
import { errorText, State } from './state';

/** A hub's row when its `ask` call itself failed (the server unreachable, a 4xx, a bad answer). */
function failedAnswer(hub: string, started: number, text: string): IAnswer {
  return {
    hub,
    status: 'error',
    seconds: (Date.now() - started) / 1000,
    offerset: null,
    messages: [text],
    offers: []
  };
}

export class AnswersModel extends State {
  constructor(request: RequestFunction, errors: ErrorState) {
    super();
    this._request = request;
    this._errors = errors;
  }

  /** Told when a hub answers that the account there must be linked (again): the hub list shows
   * it beside the hub (set by the panel's model). */
  onLink: (hub: string, state: LinkState) => void = () => undefined;

  /** From Ask until the last hub asked has answered (or the user moved on: `reset()`). */
  get asking(): boolean {
    return this._asking;
  }

  /** The hubs of the current (or last) ask, in the order asked. */
  get asked(): readonly string[] {
    return this._asked;
  }

  /** When the current ask started (`Date.now()`), for the waiting rows' clock; null when none. */
  get askStarted(): number | null {
    return this._askStarted;
  }

  /** What the current (or last) ask asked for (the offers are explained against it); null when none. */
  get needs(): Readonly<IPrepareBody> | null {
    return this._needs;
  }

  /** Every offer in so far (not accepted yet: an accept resets the answers). */
  get offers(): IOffer[] {
    return allOffers(this._answers);
  }

  /** Forget one hub's answer (the hub was removed): no Accept stays for it. */
  dropHub(hub: string): void {
    const kept = this._answers.filter(a => a.hub !== hub);
    if (kept.length === this._answers.length && !this._asked.includes(hub)) {
      return;
    }
    this._answers = kept;
    this._asked = this._asked.filter(h => h !== hub);
    this.emit();
  }

  /** The answers in so far, in the order they arrived. */
  get received(): readonly IAnswer[] {
    return this._answers;
  }

  /** The answers in so far, in the order the hubs were asked. */
  get answers(): readonly IAnswer[] {
    const order = new Map(this._asked.map((hub, i) => [hub, i]));
    const rank = (a: IAnswer): number => order.get(a.hub) ?? order.size;
    return [...this._answers].sort((a, b) => rank(a) - rank(b));
  }

  /** One row per hub asked: its answer, or `asking` while it has not answered. */
  get rows(): IAnswerRow[] {
    return answerRows(this.answers, this._asked);
  }

  /**
   * Ask `body.hubs` for offers: `prepare` once, then one `ask` per hub, all at once; a hub that
   * hangs holds back only its own row. Answers true when every hub has answered; false (with the
   * error set) when nothing could be asked, when an ask is still on, or when the user moved on
   * before the last answer.
   */
  async ask(body: IAskBody): Promise<boolean> {
    if (this._asking) {
      return false;
    }
    const round = ++this._round;
    const { hubs, ...needs } = body;
    const prepareBody: IPrepareBody = needs;
    this._asking = true;
    this._needs = prepareBody;
    this._asked = [...hubs];
    this._askStarted = Date.now();
    this._answers = [];
    this._errors.set(null);
    this.emit();
    let request: Record<string, unknown>;
    try {
      const prepared = await this._request<IPrepareResponse>('prepare', {
        method: 'POST',
        body: JSON.stringify(prepareBody)
      });
      if (
        !prepared ||
        typeof prepared.request !== 'object' ||
        prepared.request === null
      ) {
        throw new Error('the server did not answer the request it made');
      }
      request = prepared.request;
    } catch (error) {
      if (round === this._round) {
        this.reset();
        this._errors.set(`Asking failed: ${errorText(error)}`);
      }
      return false;
    }
    if (round !== this._round) {
      return false;
    }
    await Promise.all(
      hubs.map(hub => this._askHub(round, hub, request, body.timeout))
    );
    if (round !== this._round) {
      return false;
    }
    this._asking = false;
    this._askStarted = null;
    this.emit();
    return true;
  }

  /**
   * Forget the current ask and its answers (another notebook, an accepted offer): answers still on
   * their way are dropped when they come.
   */
  reset(): void {
    if (this._asking) {
      this._round += 1;
    }
    this._asking = false;
    this._asked = [];
    this._askStarted = null;
    this._answers = [];
    this._needs = null;
    this.emit();
  }

  /** Ask one hub with the prepared request; its answer (or the failure, as an `error` answer) joins
   * the others unless a newer ask (or the user moving on) has started meanwhile. */
  private async _askHub(
    round: number,
    hub: string,
    request: Record<string, unknown>,
    timeout: number
  ): Promise<void> {
    const started = Date.now();
    const body: IRequestAskBody = { hubs: [hub], request, timeout };
    let answer: IAnswer;
    try {
      const data = await this._request<IAskResponse>('ask', {
        method: 'POST',
        body: JSON.stringify(body)
      });
      const found = (data?.answers ?? []).find(a => a.hub === hub);
      answer =
        found ??
        failedAnswer(hub, started, 'the server sent no answer for this hub');
    } catch (error) {
      answer = failedAnswer(hub, started, errorText(error));
    }
    if (round !== this._round || this.isDisposed) {
      return; // an answer to an ask the user has left
    }
    this._answers = [...this._answers.filter(a => a.hub !== hub), answer];
    this.emit();
    const link = linkOf(answer);
    if (link) {
      this.onLink(hub, link);
    }
  }

  private readonly _request: RequestFunction;
  private readonly _errors: ErrorState;
  private _asking = false;
  /** Counts asks; an answer of an older one is dropped. */
  private _round = 0;
  private _asked: string[] = [];
  private _askStarted: number | null = null;
  private _answers: IAnswer[] = [];
  private _needs: IPrepareBody | null = null;
}
