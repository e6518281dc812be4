// Backend lists of imagined machines, for testing the pure backend choice
// (lib/backend-choice.ts) without the hardware.
import type { BackendInfo } from '../../lib/backend.js';

/** The backends of a machine with these facts (the shape availableBackends() returns). */
export function machine(cuda: boolean, cpu: boolean): BackendInfo[] {
  return [
    { name: 'cuda', available: cuda, reason: cuda ? 'GPU 0' : 'no usable GPU: no driver' },
    { name: 'cpu', available: cpu, reason: cpu ? 'the C++ backend' : 'no native addon: not built' },
    { name: 'reference', available: true, reason: 'the TypeScript reference' },
  ];
}
export const GPU_MACHINE = machine(true, true);
export const CPU_MACHINE = machine(false, true);
export const BARE_MACHINE = machine(false, false);
