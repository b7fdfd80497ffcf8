// Unit tests of the panel's model and pure functions (test/*.test.ts); no browser, no network.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node'
  }
});
