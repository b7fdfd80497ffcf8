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
}
