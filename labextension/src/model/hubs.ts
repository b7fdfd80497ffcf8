/**
 * The hubs to ask: the server's list (the user's own hub first), which of them are ticked, and
 * adding or removing a hub.
 */
import { INewHub, validateNewHub } from '../form';
import { IHub, RequestFunction } from '../types';
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

  /** Add (or replace) a hub; answers true when the server stored it, else sets the error. */
  async add(hub: INewHub): Promise<boolean> {
    let checked: INewHub;
    try {
      checked = validateNewHub(hub, this._hubs);
    } catch (error) {
      this._errors.set(errorText(error));
      return false;
    }
    try {
      await this._request<IHub>('hubs', {
        method: 'POST',
        body: JSON.stringify(checked)
      });
      this._errors.set(null);
    } catch (error) {
      this._errors.set(
        `Could not add hub "${checked.name}": ${errorText(error)}`
      );
      return false;
    }
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
}
