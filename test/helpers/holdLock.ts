/**
 * Holds a session's lock in a separate process (a second HAQA writer, for the lock tests): takes it, prints
 * `held <pid>`, and keeps it until stdin closes or the process is killed.
 *   node --import tsx test/helpers/holdLock.ts SESSION_DIR
 */
import { acquireSessionLock } from '../../src/core/lock';

const lock = acquireSessionLock(process.argv[2], 'test holder');
process.stdout.write(`held ${process.pid}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  lock.release();
  process.exit(0);
});
