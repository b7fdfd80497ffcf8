/**
 * The base of the panel's state classes: a Lumino `changed` signal, emitted after every change
 * of state (never once disposed), and `dispose()`.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

/** The text of a failure, for the panel's error line. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

export abstract class State implements IDisposable {
  /** Emitted after every change of state. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  /** Tell the listeners that the state changed (nothing once disposed). */
  protected emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  private readonly _changed = new Signal<this, void>(this);
  private _disposed = false;
}
