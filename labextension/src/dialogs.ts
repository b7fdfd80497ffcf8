/**
 * The panel's JupyterLab dialogs: ending a session and undoing a link ask first, as JupyterLab
 * does before it shuts a kernel down or deletes a file.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { IHub, ISession } from './types';

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

/** "Unlink your account on B?": true when the person chose to unlink. */
export async function confirmUnlink(hub: IHub): Promise<boolean> {
  const who = hub.link?.user ? ` as ${hub.link.user}` : '';
  const result = await showDialog({
    title: `Unlink your account on ${hub.name}?`,
    body:
      `Your hub will revoke its token for your account on ${hub.name}${who} and forget it: the ` +
      `panel will no longer ask ${hub.name} as you. Sessions already running there go on. You ` +
      'can link it again at any time.',
    buttons: [
      Dialog.cancelButton({ label: 'Keep the link' }),
      Dialog.warnButton({ label: 'Unlink' })
    ],
    defaultButton: 0
  });
  return result.button.accept;
}
