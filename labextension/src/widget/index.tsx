/**
 * The panel's content widget: the React view (./view.tsx) over a model it owns.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';

import { ExecPlannerModel } from '../model';
import { ExecPlannerView } from './view';

export { ExecPlannerView } from './view';

export class ExecPlannerWidget extends ReactWidget {
  constructor(readonly model: ExecPlannerModel) {
    super();
    this.addClass('jp-execplanner-Widget');
  }

  protected render(): JSX.Element {
    return <ExecPlannerView model={this.model} />;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }
}
