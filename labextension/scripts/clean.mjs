// Remove the TypeScript output and the built extension (jupyterlab.outputDir in package.json).
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
for (const path of ['lib', 'tsconfig.tsbuildinfo', pkg.jupyterlab.outputDir]) {
  rmSync(join(here, path), { recursive: true, force: true });
}
