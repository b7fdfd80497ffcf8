/**
 * The hubs to ask: the server's list (the user's own hub first), which of them are ticked, and
 * adding or removing a hub.
 */
import { INewHub, validateNewHub } from '../form';
import {
  APIError,
  IAddedHub,
  IHub,
  RequestFunction,
  ValidationError
} from '../types';
import { ErrorState } from './errors';
import { errorText, State } from './state';

export class HubsModel extends State {
  constructor(request: RequestFunction, errors: ErrorState) {
    super();
    this._request = request;
    this._errors = errors;
  }

  /** The hubs, as the server lists them (own hub first). */
  get list(): readonly IHub[] {
    return this._hubs;
  }

  get loading(): boolean {
    return this._loading;
  }

  isSelected(name: string): boolean {
    return this._selected.has(name);
  }

  /** The ticked hubs, in the list's order. */
  get selected(): string[] {
    return this._hubs.filter(h => this._selected.has(h.name)).map(h => h.name);
  }

  setSelected(name: string, selected: boolean): void {
    if (selected) {
      this._selected.add(name);
    } else {
      this._selected.delete(name);
    }
    this.emit();
  }

  /** Load the hub list; the own hub is ticked the first time it is seen. */
  async load(): Promise<void> {
    this._loading = true;
    this.emit();
    try {
      const data = await this._request<{ hubs: IHub[] }>('hubs');
      this._setHubs(data?.hubs ?? []);
      this._errors.set(null);
    } catch (error) {
      this._errors.set(errorText(error));
    } finally {
      this._loading = false;
      this.emit();
    }
  }

  /** The problems of the last Add, by field (`name`, `url`, `token`), shown next to each. */
  get addProblems(): Readonly<Record<string, string>> {
    return this._addProblems;
  }

  /** The last Add failed because the hub could not be reached: it may be added unchecked. */
  get unreachable(): boolean {
    return this._unreachable;
  }

  /** Forget the problem shown next to a field of the add form (the person is changing it). */
  clearProblem(field: string): void {
    if (field in this._addProblems) {
      const { [field]: _gone, ...rest } = this._addProblems;
      void _gone;
      this._addProblems = rest;
      if (
        Object.keys(rest).length === 0 &&
        this._errors.message === this._addError
      ) {
        this._errors.set(null); // the line said the same as the problem gone
      }
      this.emit();
    }
  }

  /** After an Add: "B: connected as alice" (the hub checked the token); null otherwise. */
  get connected(): string | null {
    return this._connected;
  }

  /**
   * Add (or replace) a hub, once the server has checked it (it answers, runs the broker, takes the
   * token); the new hub is ticked. Answers true when the server kept it, else sets the problems
   * (by field) and the error line.
   */
  async add(hub: INewHub, check = true): Promise<boolean> {
    let checked: INewHub;
    this._connected = null;
    this._unreachable = false;
    try {
      checked = validateNewHub(hub, this._hubs);
    } catch (error) {
      this._addProblems =
        error instanceof ValidationError ? { ...error.fields } : {};
      this._addError = errorText(error);
      this._errors.set(this._addError);
      return false;
    }
    let added: IAddedHub;
    try {
      added = await this._request<IAddedHub>('hubs', {
        method: 'POST',
        body: JSON.stringify(check ? checked : { ...checked, check: false })
      });
    } catch (error) {
      const field = error instanceof APIError ? error.field : null;
      this._addProblems = field ? { [field]: errorText(error) } : {};
      // a hub that cannot be reached now may be added anyway (it is checked at each Ask)
      this._unreachable =
        field === 'url' && /cannot reach/.test(errorText(error));
      this._addError = `Could not add hub "${checked.name}": ${errorText(error)}`;
      this._errors.set(this._addError);
      return false;
    }
    this._addProblems = {};
    this._errors.set(null);
    this._selected.add(checked.name);
    this._connected = added?.user
      ? `${checked.name}: connected as ${added.user}`
      : `${checked.name}: added without a check (it could not be reached)`;
    await this.load();
    return true;
  }

  /** Forget a hub and its token (the own hub cannot be removed: the server says so). */
  async remove(name: string): Promise<void> {
    try {
      await this._request<void>(`hubs/${encodeURIComponent(name)}`, {
        method: 'DELETE'
      });
      this._selected.delete(name);
      this._errors.set(null);
    } catch (error) {
      this._errors.set(`Could not remove hub "${name}": ${errorText(error)}`);
      return;
    }
    await this.load();
  }

  /** Take a new list: forget the ticks of hubs gone, tick the own hub when it is new. */
  private _setHubs(hubs: IHub[]): void {
    const known = new Set(this._hubs.map(h => h.name));
    const names = new Set(hubs.map(h => h.name));
    for (const name of [...this._selected]) {
      if (!names.has(name)) {
        this._selected.delete(name);
      }
    }
    for (const hub of hubs) {
      if (hub.own && !known.has(hub.name)) {
        this._selected.add(hub.name);
      }
    }
    this._hubs = hubs;
  }

  private readonly _request: RequestFunction;
  private readonly _errors: ErrorState;
  private _hubs: IHub[] = [];
  private _selected = new Set<string>();
  private _loading = false;
  private _addProblems: Record<string, string> = {};
  private _connected: string | null = null;
  private _unreachable = false;
  private _addError: string | null = null;
}
