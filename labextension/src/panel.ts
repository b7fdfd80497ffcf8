/**
 * The main-area panel: one `MainAreaWidget` (id `execplanner-panel`) around the React view,
 * reused while it is open.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { ExecPlannerModel } from './model';
import { ExecPlannerWidget } from './widget';

export const PANEL_ID = 'execplanner-panel';
export const PANEL_CLASS = 'jp-execplanner-Panel';

// a small "send elsewhere" arrow, drawn in the theme's icon colour
export const runElsewhereIcon = new LabIcon({
  name: 'jupyterhub-execplanner:run-elsewhere',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M4 4h9v2H6v12h12v-7h2v9H4zm11 0h5v5h-2V7.4l-6.3 6.3-1.4-1.4L16.6 6H15z"/>' +
    '</svg>'
});

export type ExecPlannerPanel = MainAreaWidget<ExecPlannerWidget>;

/** A new panel over `model` (the caller adds it to the shell). */
export function createPanel(model: ExecPlannerModel): ExecPlannerPanel {
  const content = new ExecPlannerWidget(model);
  const panel = new MainAreaWidget({ content });
  panel.id = PANEL_ID;
  panel.addClass(PANEL_CLASS);
  panel.title.label = 'Run elsewhere';
  panel.title.caption = 'Ask JupyterHubs for offers to run a notebook';
  panel.title.icon = runElsewhereIcon;
  panel.title.closable = true;
  return panel;
}
