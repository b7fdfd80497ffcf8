/**
 * The request form's fields (as typed, strings) and their defaults from the settings.
 */
import { DEFAULTS, formFromDefaults, IDefaults, IForm } from '../form';
import { State } from './state';

export class FormModel extends State {
  constructor(defaults: IDefaults = DEFAULTS) {
    super();
    this._defaults = { ...defaults };
    this._values = formFromDefaults(this._defaults);
  }

  /** The fields as typed. */
  get values(): Readonly<IForm> {
    return this._values;
  }

  /** The defaults the form started from (the settings). */
  get defaults(): Readonly<IDefaults> {
    return this._defaults;
  }

  setField(field: keyof IForm, value: string): void {
    this._values = { ...this._values, [field]: value };
    if (field in this._problems) {
      // the problem shown next to the field goes once the field is changed
      const { [field]: _gone, ...rest } = this._problems;
      void _gone;
      this._problems = rest;
    }
    this.emit();
  }

  /** The problems of the last Ask, by field (`coresMin`, …, `hubs`, `notebook`): shown next to
   * each field. */
  get problems(): Readonly<Record<string, string>> {
    return this._problems;
  }

  setProblems(problems: Record<string, string>): void {
    this._problems = { ...problems };
    this.emit();
  }

  /** Send the notebook with its cells' outputs (by default they are cleared). */
  get keepOutputs(): boolean {
    return this._keepOutputs;
  }

  set keepOutputs(value: boolean) {
    this._keepOutputs = value;
    this.emit();
  }

  /** New defaults (the settings changed): fields still at the old default take the new one. */
  setDefaults(defaults: IDefaults): void {
    const before = formFromDefaults(this._defaults);
    const after = formFromDefaults(defaults);
    const values = { ...this._values };
    for (const key of Object.keys(after) as (keyof IForm)[]) {
      if (values[key] === before[key]) {
        values[key] = after[key];
      }
    }
    this._defaults = { ...defaults };
    this._values = values;
    this.emit();
  }

  private _defaults: IDefaults;
  private _values: IForm;
  private _problems: Record<string, string> = {};
  private _keepOutputs = false;
}
