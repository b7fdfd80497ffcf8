/**
 * The request form: what the notebook needs (cores, memory, GPUs, duration, start window, the
 * wait per hub, the data it reads) and **Ask**.
 */
import * as React from 'react';

import { IForm } from '../form';
import { FormModel } from '../model/form';

function Field(props: {
  form: FormModel;
  field: keyof IForm;
  label: string;
  testid: string;
  type?: string;
  min?: number;
  step?: string;
}): JSX.Element {
  const { form, field, label, testid } = props;
  return (
    <label className="jp-execplanner-field">
      <span>{label}</span>
      <input
        type={props.type ?? 'number'}
        min={props.min}
        step={props.step}
        data-testid={testid}
        value={form.values[field]}
        onChange={e => form.setField(field, e.currentTarget.value)}
      />
    </label>
  );
}

const DATA_PLACEHOLDER = [
  'https://archive.example.org/survey/cat.fits',
  'dr1=ivo://example.org/survey?dr1',
  's3://bucket/path/object.fits',
  'rucio:scope:name'
].join('\n');

export function RequestForm({
  form,
  asking,
  onAsk
}: {
  form: FormModel;
  /** An ask is on: **Ask** is disabled and says so. */
  asking: boolean;
  onAsk: () => void;
}): JSX.Element {
  return (
    <form
      className="jp-execplanner-request"
      onSubmit={e => {
        e.preventDefault();
        onAsk();
      }}
    >
      <fieldset>
        <legend>What the notebook needs</legend>
        <div className="jp-execplanner-row">
          <Field
            form={form}
            field="coresMin"
            label="Cores min"
            testid="ep-cores-min"
            min={1}
            step="1"
          />
          <Field
            form={form}
            field="coresMax"
            label="Cores max"
            testid="ep-cores-max"
            min={1}
            step="1"
          />
          <Field
            form={form}
            field="memoryMin"
            label="Memory min (GiB)"
            testid="ep-memory-min"
            min={1}
            step="1"
          />
          <Field
            form={form}
            field="memoryMax"
            label="Memory max (GiB)"
            testid="ep-memory-max"
            min={1}
            step="1"
          />
          <Field
            form={form}
            field="gpus"
            label="GPUs"
            testid="ep-gpus"
            min={0}
            step="1"
          />
        </div>
        <div className="jp-execplanner-row">
          <Field
            form={form}
            field="durationMinutes"
            label="Duration (minutes)"
            testid="ep-duration"
            min={1}
            step="any"
          />
          <Field
            form={form}
            field="startEarliest"
            label="Start earliest"
            testid="ep-start-earliest"
            type="datetime-local"
          />
          <Field
            form={form}
            field="startLatest"
            label="Start latest"
            testid="ep-start-latest"
            type="datetime-local"
          />
          <Field
            form={form}
            field="timeout"
            label="Wait per hub (s)"
            testid="ep-timeout"
            min={0}
            step="any"
          />
        </div>
        <label className="jp-execplanner-field jp-execplanner-data">
          <span>Data (one per line)</span>
          <textarea
            data-testid="ep-data"
            rows={3}
            spellCheck={false}
            placeholder={DATA_PLACEHOLDER}
            title="An https:// URL, ivo://…, s3://bucket/key or rucio:scope:name a line, optionally after name=; each appears read-only at /data/<name> on the hub"
            value={form.values.data}
            onChange={e => form.setField('data', e.currentTarget.value)}
          />
        </label>
      </fieldset>
      <button
        type="submit"
        className="jp-mod-styled jp-mod-accept"
        data-testid="ep-ask"
        disabled={asking}
      >
        {asking ? 'Asking…' : 'Ask'}
      </button>
    </form>
  );
}
