import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { sessionCreateOptions } from '../../../src/runtime/onnx-session.ts';

/**
 * What OnnxSession asks ONNX Runtime for. The thread count is always set: ONNX Runtime's own choice ran one thread's
 * worth on the 2-core VMs this project runs on.
 */
describe('sessionCreateOptions', () => {
  it('asks for one intra-op thread per CPU this process may use unless told otherwise', () => {
    expect(sessionCreateOptions({}, false)).toMatchObject({ intraOpNumThreads: availableParallelism(), interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    expect(sessionCreateOptions({ intraOpThreads: 3 }, false).intraOpNumThreads).toBe(3);
  });

  it('passes spinning and memory settings as session config, and loads a saved optimized graph as it is', () => {
    const options = sessionCreateOptions({ allowSpinning: false, memory: { cpuArena: true, prepacking: false } }, true);
    expect(options).toMatchObject({ graphOptimizationLevel: 'disabled', enableCpuMemArena: true, enableMemPattern: false });
    expect(options.extra).toEqual({ session: { intra_op: { allow_spinning: '0' }, disable_prepacking: '1' } });
    expect(sessionCreateOptions({}, false).extra).toEqual({ session: {} });
  });
});
