/**
 * The error line under the form (and above "My sessions"), with a button to dismiss it.
 */
import * as React from 'react';

import { ErrorState } from '../model/errors';

export function ErrorLine({
  errors
}: {
  errors: ErrorState;
}): JSX.Element | null {
  if (!errors.message) {
    return null;
  }
  return (
    <div className="jp-execplanner-error" data-testid="ep-error" role="alert">
      {errors.message}
      <button
        className="jp-execplanner-link"
        title="Dismiss"
        onClick={() => errors.clear()}
      >
        ×
      </button>
    </div>
  );
}
