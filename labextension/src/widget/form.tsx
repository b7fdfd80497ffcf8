/**
 * The request form: what the notebook needs (cores, memory, GPUs, duration, start window, the
 * wait per hub, the data it reads), what will be sent (the files, saved or not; outputs cleared
 * unless kept), and **Ask**. Each problem of the last Ask shows next to its field.
 */
import * as React from 'react';

import { formatBytes } from '../format';
import { IForm } from '../form';
import { FilesModel } from '../model/files';
import { FormModel } from '../model/form';

/** A problem of the form shown next to its field (`ep-problem`, `data-field`). */
function Problem({
  form,
  field
}: {
  form: FormModel;
  field: string;
}): JSX.Element | null {
  const text = form.problems[field];
  return text ? (
    <span
      id={`jp-execplanner-problem-${field}`}
      className="jp-execplanner-problem"
      data-testid="ep-problem"
      data-field={field}
    >
      {text}
    </span>
  ) : null;
}

/** What an Ask sends: the files as saved, and whether the outputs go too. */
function Sending({
  form,
  files
}: {
  form: FormModel;
  files: FilesModel;
}): JSX.Element {
  return (
    <fieldset className="jp-execplanner-sending" data-testid="ep-sending">
      <legend>What will be sent</legend>
      {files.error ? (
        <p className="jp-execplanner-muted">{files.error}</p>
      ) : (
        <ul>
          {files.files.map(f => {
            const dirty = files.isDirty(f.path);
            return (
              <li
                key={f.path}
                data-testid="ep-file"
                data-name={f.name}
                data-dirty={dirty ? 'true' : 'false'}
              >
                <code>{f.name}</code>{' '}
                <span className="jp-execplanner-muted">
                  {formatBytes(f.size)}, as saved
                  {f.outputs !== undefined &&
                    f.outputs > 0 &&
                    (form.keepOutputs
                      ? `, with its ${f.outputs} output${f.outputs === 1 ? '' : 's'}`
                      : `, without its ${f.outputs} output${f.outputs === 1 ? '' : 's'}`)}
                </span>
                {dirty && (
                  <span className="jp-execplanner-warn">
                    {' '}
                    unsaved changes are not sent: save it first
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <label>
        <input
          type="checkbox"
          data-testid="ep-keep-outputs"
          checked={form.keepOutputs}
          onChange={e => (form.keepOutputs = e.currentTarget.checked)}
        />{' '}
        Keep the cells&apos; outputs (by default the notebook is sent without
        them, and opens fresh)
      </label>
    </fieldset>
  );
}

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
  const problem = form.problems[field];
  return (
    <label className="jp-execplanner-field">
      <span>{label}</span>
      <input
        type={props.type ?? 'number'}
        min={props.min}
        step={props.step}
        data-testid={testid}
        aria-invalid={problem ? true : undefined}
        aria-describedby={
          problem ? `jp-execplanner-problem-${field}` : undefined
        }
        value={form.values[field]}
        onChange={e => form.setField(field, e.currentTarget.value)}
      />
      <Problem form={form} field={field} />
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
  files,
  asking,
  releasing,
  onAsk
}: {
  form: FormModel;
  files: FilesModel;
  /** An ask is on: **Ask** is disabled and says so. */
  asking: boolean;
  /** The previous offers are being released before the new ask. */
  releasing: boolean;
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
            aria-invalid={form.problems.data ? true : undefined}
            aria-describedby={
              form.problems.data ? 'jp-execplanner-problem-data' : undefined
            }
            value={form.values.data}
            onChange={e => form.setField('data', e.currentTarget.value)}
          />
          <Problem form={form} field="data" />
        </label>
      </fieldset>
      <Sending form={form} files={files} />
      <Problem form={form} field="hubs" />
      <Problem form={form} field="notebook" />
      <button
        type="submit"
        className="jp-mod-styled jp-mod-accept"
        data-testid="ep-ask"
        disabled={asking || releasing}
      >
        {releasing ? 'Releasing the last offers…' : asking ? 'Asking…' : 'Ask'}
      </button>
    </form>
  );
}
