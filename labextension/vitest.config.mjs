// Unit tests of the panel's model parts, pure functions and view (test/*.test.ts, test/*.test.tsx);
// no browser, no network (the view is rendered to markup with react-dom/server).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'node'
  }
});
