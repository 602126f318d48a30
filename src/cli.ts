/**
 * haqa — the headless CLI over the HAQA core. Exit codes: 0 ok, 1 failure, 2 bad usage. The commands live in
 * src/cli/: args.ts (flags → spec), optimize.ts, commands.ts, output.ts.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ArtifactCache } from './core/artifacts';
import { errorMessage, isHaqaError } from './core/errors';
import { describeHardware, formatBytes, probeHardware } from './core/hardware';
import { describeModel, inspectModel } from './core/model';
import { toolchainRoot } from './core/paths';
import { OPTIONS, USAGE, usage, type Flags } from './cli/args';
import { demo, optimize } from './cli/optimize';
import { report, toolchainCmd } from './cli/commands';
import { guardOutput, log } from './cli/output';

/**
 * With --json the CLI always prints one JSON document on stdout: the command's result, or on failure
 * `{ "schema": "haqa.error.v1", "error", "fix", "exitCode" }` (the same message and fix go to stderr as text).
 */
function fail(json: boolean, error: string, fix: string, exitCode: number): number {
  process.stderr.write(`haqa: ${error}\n  fix: ${fix}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ schema: 'haqa.error.v1', error, fix, exitCode }, null, 2)}\n`);
  return exitCode;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    return fail(json, errorMessage(e), 'see `haqa --help`', 2);
  }
  const flags = parsed.values as Flags;
  const [cmd, ...rest] = parsed.positionals;
  if (flags.help || !cmd || cmd === 'help') {
    if (json && !flags.help && cmd !== 'help') return fail(json, 'no command given', 'see `haqa --help`', 2);
    // `--json` always prints one JSON document: the usage text inside it.
    process.stdout.write(json ? `${JSON.stringify({ schema: 'haqa.help.v1', usage: USAGE }, null, 2)}\n` : USAGE);
    return cmd || flags.help ? 0 : 2;
  }
  try {
    switch (cmd) {
      case 'optimize':
        // `--replay A B C`: files after the first arrive as positionals.
        if (rest.length && !flags.replay) throw usage(`unexpected argument "${rest[0]}"`);
        if (rest.length) flags.replay = [...(flags.replay ?? []), ...rest];
        return await optimize(flags);
      case 'demo':
        return await demo(flags);
      case 'report':
        return await report(flags, rest[0]);
      case 'toolchain':
        return await toolchainCmd(flags, rest[0]);
      case 'hardware': {
        const hw = probeHardware();
        process.stdout.write(flags.json ? `${JSON.stringify(hw, null, 2)}\n` : `${describeHardware(hw)}\n`);
        return 0;
      }
      case 'inspect': {
        if (!rest[0]) throw usage('inspect needs a .gguf file');
        const m = await inspectModel(rest[0]);
        process.stdout.write(flags.json ? `${JSON.stringify(m, null, 2)}\n` : `${describeModel(m)}\n`);
        return 0;
      }
      case 'clean': {
        const c = new ArtifactCache(flags['cache-dir']);
        log(`haqa: removed ${formatBytes(c.clean())} of cached artifacts from ${c.dir}`);
        if (flags.toolchain) {
          fs.rmSync(toolchainRoot(), { recursive: true, force: true });
          log(`haqa: removed the llama.cpp build in ${toolchainRoot()}`);
        }
        return 0;
      }
      default:
        throw usage(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (isHaqaError(e)) return fail(json, e.message, e.fixFor('cli'), e.code === 'usage' ? 2 : 1);
    if (json) fail(json, `unexpected error: ${errorMessage(e)}`, 'this is a bug in HAQA: please report it', 1);
    process.stderr.write(`haqa: unexpected error: ${e instanceof Error ? e.stack : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  guardOutput();
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
