/**
 * jupyterhub-execplanner's JupyterLab plugin: the "Run elsewhere…" command (command palette and
 * the file browser's context menu on notebooks) that opens the panel, with the request form's
 * defaults from the settings (schema/plugin.json).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { confirmCancel, confirmUnlink } from './dialogs';
import { DEFAULTS, IDefaults } from './form';
import { ExecPlannerModel } from './model';
import { createPanel, ExecPlannerPanel, runElsewhereIcon } from './panel';
import { makeRequestFunction } from './request';

export const PLUGIN_ID = 'jupyterhub-execplanner:plugin';
export const COMMAND_ID = 'execplanner:run-elsewhere';

/** The request form's defaults from the plugin's settings (schema defaults where unset). */
export function defaultsFromSettings(
  settings: ISettingRegistry.ISettings | null
): IDefaults {
  const defaults = { ...DEFAULTS };
  if (!settings) {
    return defaults;
  }
  for (const key of Object.keys(defaults) as (keyof IDefaults)[]) {
    const value = settings.get(key).composite;
    if (typeof value === 'number' && Number.isFinite(value)) {
      defaults[key] = value;
    }
  }
  return defaults;
}

function isNotebook(path: string): boolean {
  return path.toLowerCase().endsWith('.ipynb');
}

/** A document widget's context, as far as the panel needs it (its path, unsaved or not). */
interface IDocContext {
  path: string;
  model: { dirty: boolean };
}

function contextOf(widget: Widget): IDocContext | null {
  const context = (widget as unknown as { context?: IDocContext }).context;
  return context && typeof context.path === 'string' && context.model
    ? context
    : null;
}

/** The position of the "Run elsewhere" button in a notebook's toolbar (after the cell type). */
const TOOLBAR_RANK = 10;

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Run a notebook elsewhere: ask JupyterHubs for offers, accept one, follow the session.',
  autoStart: true,
  optional: [
    ICommandPalette,
    ISettingRegistry,
    IDefaultFileBrowser,
    INotebookTracker
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    browser: IDefaultFileBrowser | null,
    notebooks: INotebookTracker | null
  ) => {
    let settings: ISettingRegistry.ISettings | null = null;
    let panel: ExecPlannerPanel | null = null;

    const selectedNotebook = (): string => {
      for (const item of browser?.selectedItems() ?? []) {
        if (item.type === 'notebook' || isNotebook(item.path)) {
          return item.path;
        }
      }
      return '';
    };
    const currentNotebook = (): string =>
      notebooks?.currentWidget?.context.path ?? '';

    /** args.path, else the file browser's selection (context menu) or the current notebook. */
    const notebookPath = (args: ReadonlyPartialJSONObject): string => {
      if (typeof args.path === 'string' && args.path) {
        return args.path;
      }
      if (args.fromBrowser) {
        return selectedNotebook() || currentNotebook();
      }
      return currentNotebook() || selectedNotebook();
    };

    app.commands.addCommand(COMMAND_ID, {
      label: 'Run elsewhere…',
      caption:
        'Ask JupyterHubs for offers to run this notebook, and start it on one of them',
      icon: runElsewhereIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: {
              type: 'string',
              description: 'The notebook path (default: the current notebook)'
            }
          }
        }
      },
      execute: args => {
        const path = notebookPath(args);
        if (!panel || panel.isDisposed) {
          const model = new ExecPlannerModel(
            makeRequestFunction(),
            defaultsFromSettings(settings)
          );
          model.confirmCancel = confirmCancel;
          model.hubs.confirmUnlink = confirmUnlink;
          // not noopener: the link page tells this window when it is done
          model.hubs.openWindow = (url, target) => window.open(url, target);
          model.files.dirtyCheck = (file: string): boolean => {
            for (const widget of app.shell.widgets('main')) {
              const context = contextOf(widget);
              if (context?.path === file && context.model.dirty) {
                return true;
              }
            }
            return false;
          };
          panel = createPanel(model);
          model.path = path;
          void model.hubs.load();
          app.shell.add(panel, 'main');
        } else if (path) {
          panel.content.model.path = path;
        }
        app.shell.activateById(panel.id);
        return panel;
      }
    });

    palette?.addItem({ command: COMMAND_ID, category: 'Notebook Operations' });
    // a "Run elsewhere" button in every notebook's toolbar
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (notebook: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: runElsewhereIcon,
          label: 'Run elsewhere',
          tooltip:
            'Ask JupyterHubs for offers to run this notebook, and start it on one of them',
          onClick: () => {
            void app.commands.execute(COMMAND_ID, {
              path: notebook.context.path
            });
          }
        });
        button.addClass('jp-execplanner-ToolbarButton');
        notebook.toolbar.insertItem(TOOLBAR_RANK, 'runElsewhere', button);
        // an edit or a save changes what the panel says will be sent
        notebook.context.model.stateChanged.connect((_m, change) => {
          if (change.name === 'dirty' && panel && !panel.isDisposed) {
            const model = panel.content.model;
            void model.files.load(model.path); // saved: its size, its outputs
          }
        });
        // a notebook renamed (or saved under a name the first time) while the panel shows it
        let known = notebook.context.path;
        notebook.context.pathChanged.connect((_c, path) => {
          if (
            panel &&
            !panel.isDisposed &&
            panel.content.model.path === known
          ) {
            panel.content.model.path = path;
          }
          known = path;
        });
        return button;
      }
    });
    app.contextMenu.addItem({
      command: COMMAND_ID,
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 10,
      args: { fromBrowser: true }
    });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          settings = loaded;
          const apply = (): void => {
            if (panel && !panel.isDisposed) {
              panel.content.model.form.setDefaults(
                defaultsFromSettings(loaded)
              );
            }
          };
          loaded.changed.connect(apply);
          apply();
        })
        .catch(reason => {
          console.error(`${PLUGIN_ID}: could not load the settings`, reason);
        });
    }
  }
};

export default plugin;
