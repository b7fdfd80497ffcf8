// Build the federated JupyterLab extension into jupyterlab.outputDir (see package.json) with
// @jupyter/builder (Rspack), offline: the core package metadata comes from the installed
// @jupyterlab/core-meta, not from the network. Called by `npm run build:labextension[:dev]`,
// which hatch-jupyter-builder runs when the Python wheel is built.
// Usage: node scripts/build-labextension.mjs [--development] [--watch]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(here, 'package.json'));
const builder = require.resolve('@jupyter/builder/lib/build-labextension.js');
const coreMeta = require.resolve('@jupyterlab/core-meta/core.package.json');
const extra = process.argv.slice(2);

// The builder may cache under HOME: keep it in a throwaway folder (read-only or shared HOMEs).
const home = mkdtempSync(join(tmpdir(), 'execplanner-labext-'));
const result = spawnSync(
  process.execPath,
  [builder, '--core-package-file', coreMeta, ...extra, here],
  { cwd: here, stdio: 'inherit', env: { ...process.env, HOME: home } }
);
rmSync(home, { recursive: true, force: true });
if (result.error) {
  throw result.error;
}
process.exit(result.status ?? 1);
