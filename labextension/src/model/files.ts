/**
 * What an Ask will send: the notebook and `requirements.txt` beside it, as saved on the server
 * (`GET execplanner/files?path=`), and whether an open document of them has unsaved changes (the
 * saved version is what goes).
 */
import { IFileEntry, RequestFunction } from '../types';
import { errorText, State } from './state';

/** Whether the document at a path is open with unsaved changes (the plugin asks JupyterLab). */
export type DirtyCheck = (path: string) => boolean;

export class FilesModel extends State {
  constructor(request: RequestFunction) {
    super();
    this._request = request;
  }

  /** The files of the last `load`, in the order the server sends them (the notebook first). */
  get files(): readonly IFileEntry[] {
    return this._files;
  }

  /** Why the list could not be had; null when it could. */
  get error(): string | null {
    return this._error;
  }

  /** How to tell unsaved documents (JupyterLab's documents in the panel; none in the tests). */
  set dirtyCheck(check: DirtyCheck) {
    this._dirty = check;
    this.emit();
  }

  /** Whether this file is open with unsaved changes. */
  isDirty(path: string): boolean {
    return this._dirty(path);
  }

  /** Something changed that the list shows (a document was saved or edited): render again. */
  touch(): void {
    this.emit();
  }

  /** Fetch what an ask of the notebook at `path` sends ("" clears the list). */
  async load(path: string): Promise<void> {
    const round = ++this._round;
    if (!path) {
      this._files = [];
      this._error = null;
      this.emit();
      return;
    }
    try {
      const data = await this._request<{ files: IFileEntry[] }>(
        `files?path=${encodeURIComponent(path)}`
      );
      if (round !== this._round) {
        return;
      }
      this._files = data?.files ?? [];
      this._error = null;
    } catch (error) {
      if (round !== this._round) {
        return;
      }
      this._files = [];
      this._error = errorText(error);
    }
    this.emit();
  }

  private readonly _request: RequestFunction;
  private _files: IFileEntry[] = [];
  private _error: string | null = null;
  private _dirty: DirtyCheck = () => false;
  private _round = 0;
}
