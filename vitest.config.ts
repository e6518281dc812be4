import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addons crash thread pools; forks isolate each file in a process.
    pool: 'forks',
    testTimeout: 60_000,
  },
});
