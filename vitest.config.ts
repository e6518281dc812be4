import { defineConfig } from 'vitest/config';

// Files that use the GPU: they run after the rest, one file at a time, so
// that device-wide readings (free memory) and timings see no other process.
const GPU_FILES = [
  'test/native-gpu.test.ts',
  'test/native-gpu-ops.test.ts',
  'test/native-gpu-default.test.ts',
  'test/bench-cli.test.ts',
];

export default defineConfig({
  test: {
    // Native addons crash thread pools; forks isolate each file in a process.
    pool: 'forks',
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: GPU_FILES, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'gpu', include: GPU_FILES, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
