/**
 * The panel's JupyterLab dialogs: ending a session asks first, as JupyterLab does before it shuts
 * a kernel down or deletes a file.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { ISession } from './types';

/** "End the session on B?": true when the person chose to end it. */
export async function confirmCancel(session: ISession): Promise<boolean> {
  const what = session.profile
    ? `${session.profile} on ${session.hub}`
    : session.hub;
  const result = await showDialog({
    title: `End the session on ${session.hub}?`,
    body:
      `The server of this session (${what}) will be stopped. Unsaved work on that server is ` +
      'lost: save your notebooks there first (and download what you want to keep).',
    buttons: [
      Dialog.cancelButton({ label: 'Keep it running' }),
      Dialog.warnButton({ label: 'End session' })
    ],
    defaultButton: 0
  });
  return result.button.accept;
}
