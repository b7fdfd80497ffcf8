/**
 * The panel's error line: the last failure of any part of the panel, shown as one line under the
 * form with the server's message.
 */
import { State } from './state';

export class ErrorState extends State {
  /** The failure shown; null when none. */
  get message(): string | null {
    return this._message;
  }

  /** Show a failure (null: clear the line). */
  set(message: string | null): void {
    this._message = message;
    this.emit();
  }

  clear(): void {
    this.set(null);
  }

  private _message: string | null = null;
}
