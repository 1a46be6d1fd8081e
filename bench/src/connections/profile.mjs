/**
 * The connections benchmark's `--profile DIR`: a CPU profile of the idle window only (the
 * connect storm would drown what runs while idle), taken in-process through the inspector and
 * written as a `.cpuprofile` (open it in Chrome DevTools or speedscope); and a heap snapshot
 * (what a held session is made of).
 */
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { writeHeapSnapshot } from 'node:v8';

let session;

export const profileCommands = {
  profileStart: async () => {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    return true;
  },
  profileStop: async ({ file }) => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    session = undefined;
    await writeFile(file, JSON.stringify(profile));
    return file;
  },
  heapSnapshot: ({ file }) => writeHeapSnapshot(file),
};
