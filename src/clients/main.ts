/** The load client's entry (bundled into dist/loadclient/loadclient.js, run in its image). */
import { runClient } from './client.js';

const code = await runClient(process.stdin, (line) => process.stdout.write(`${line}\n`));
process.exitCode = code;
// stdin may still be open (the coordinator holds it): do not wait for it
setTimeout(() => process.exit(code), 200).unref();
process.stdin.destroy();
