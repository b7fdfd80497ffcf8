// ESLint for the panel's TypeScript, with the JupyterLab extension template's settings
// (typescript-eslint's recommended rules, the Jupyter plugin's, Prettier as a rule).
// `npm run lint` checks, `npm run format` fixes; `npm test` runs the check.
// ref: https://github.com/jupyterlab/extension-template (template/eslint.config.mjs.jinja)
import js from '@eslint/js';
import jupyterPlugin from '@jupyter/eslint-plugin';
import { defineConfig } from 'eslint/config';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  {
    ignores: [
      'node_modules/**',
      'lib/**',
      'coverage/**',
      '**/*.js',
      '**/*.d.ts'
    ]
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  jupyterPlugin.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: {
      jupyter: jupyterPlugin
    },
    languageOptions: {
      globals: {
        ...globals.browser,
        ...globals.es2015,
        ...globals.node
      },
      parserOptions: {
        // the test configuration: the sources and test/ (the build's tsconfig.json has src/ only)
        project: 'tsconfig.test.json',
        sourceType: 'module'
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: {
            regex: '^I[A-Z]',
            match: true
          }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      // (The template's '@typescript-eslint/quotes' is not here: typescript-eslint 8 has no
      // formatting rules any more, and Prettier's singleQuote does that job.)
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error',
      // The panel is in English only: it has no translator (ITranslator) yet, so its strings are
      // not wrapped in trans.__(). Translating it is a change of its own.
      'jupyter/no-untranslated-string': 'off'
    }
  },
  {
    // The command opens the panel at once, so the plugin loads the panel's (small) modules with
    // it rather than in a chunk fetched on the first click.
    files: ['src/index.ts'],
    rules: {
      'jupyter/prefer-lazy-imports': 'off'
    }
  },
  {
    // the build and test scripts run in Node
    files: ['**/*.mjs'],
    languageOptions: {
      globals: globals.node
    }
  },
  prettierRecommended
]);
