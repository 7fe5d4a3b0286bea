/**
 * Preloaded into a Hookline process by `--alloc-prof` (node --import): V8's
 * sampling heap profiler, counting the objects that garbage collection has
 * freed too, so that the profile says what a process allocates rather than
 * what it holds at the end. Written when the process exits, to the file
 * named in this module's URL (`?out=`).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const out = new URL(import.meta.url).searchParams.get('out');
if (out) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  process.on('exit', () => {
    // The inspector answers a session of the same thread at once, so this runs before the process ends.
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(out, JSON.stringify(result.profile));
    });
  });
}
