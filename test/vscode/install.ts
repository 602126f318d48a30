/** `npm run setup:vscode`: installs code-server 4.100.3 into the user cache (once) and says where. */
import { ensureCodeServer } from './codeServer';

const t0 = Date.now();
const bin = ensureCodeServer((s) => console.log(s));
console.log(`code-server ready: ${bin} (${Math.round((Date.now() - t0) / 1000)} s)`);
