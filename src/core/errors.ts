/**
 * Errors a user can act on: what went wrong (the cause) and what to do about it (the fix). The fix is shown by two
 * hosts — the `haqa` CLI and the VS Code extension — which do the same thing in different ways (a flag vs. a
 * setting, `haqa toolchain build` vs. "HAQA: Build Toolchain"), so a fix may say it once per host: see `Fix` and
 * `renderFix`.
 */

/** Where an error is shown: the haqa CLI or the VS Code extension. */
import { dirname } from 'node:path';
export type Host = 'cli' | 'vscode';

/**
 * VS Code commands a fix may name, by their Command Palette titles (package.json contributes.commands: category and
 * title). test/unit/errors.test.ts keeps this equal to package.json.
 */
export const COMMAND_TITLES = {
  'haqa.optimizeModel': 'HAQA: Optimize Model',
  'haqa.buildToolchain': 'HAQA: Build Toolchain',
  'haqa.setApiKey': 'HAQA: Set API Key',
} as const;
export type VscodeCommandId = keyof typeof COMMAND_TITLES;

/** Settings a fix may name (package.json contributes.configuration; test/unit/errors.test.ts checks they exist). */
export const FIX_SETTINGS = [
  'haqa.strategy',
  'haqa.accuracy',
  'haqa.cacheDir',
  'haqa.llamacpp.binDir',
  'haqa.llm.baseUrl',
  'haqa.llm.model',
  'haqa.llm.maxPromptTokens',
  'haqa.context',
] as const;
export type SettingId = (typeof FIX_SETTINGS)[number];

/** A HAQA command that does the fix: the CLI's subcommand and/or the extension's VS Code command. */
export interface HaqaCommand {
  /** e.g. 'haqa toolchain build'; the CLI shows it in backquotes. */
  cli?: string;
  /** e.g. 'haqa.buildToolchain'; VS Code shows its palette title in double quotes. */
  vscode?: VscodeCommandId;
}

/**
 * A fix each host words its own way. The words come from `cli` / `vscode` for that host, else `text` (the same for
 * both); in them `{option}` and `{command}` are spelled the host's way:
 *   {option}   CLI: `flag` ("--model FILE.gguf")         VS Code: "the setting `setting`" ("the setting haqa.cacheDir")
 *   {command}  CLI: `command.cli` in backquotes          VS Code: the palette title of `command.vscode`, in quotes
 * With no words at all: CLI "pass {option}" / "run {command}", VS Code "change {option}" / "run {command}".
 * Where VS Code has no equivalent, give `vscode` in host-neutral words (e.g. "pick a .gguf model in {command}");
 * a host whose words cannot be spelled (say a `{option}` with no `setting`) falls back to the CLI's.
 */
export interface Fix {
  /** Words for every host (with placeholders), used where `cli` / `vscode` is not given. */
  text?: string;
  /** The CLI's words, when they differ from VS Code's. */
  cli?: string;
  /** VS Code's words, when they differ from the CLI's. */
  vscode?: string;
  /** The CLI way: a flag and its value, e.g. '--model FILE.gguf'. */
  flag?: string;
  /** The VS Code way: a setting id, e.g. 'haqa.llamacpp.binDir'. */
  setting?: SettingId;
  /** A HAQA command that does it, in both hosts. */
  command?: HaqaCommand;
}

function spell(words: string, fix: Fix, host: Host): string | undefined {
  const option = host === 'cli' ? fix.flag : fix.setting && `the setting ${fix.setting}`;
  const command =
    host === 'cli'
      ? fix.command?.cli && `\`${fix.command.cli}\``
      : fix.command?.vscode && `"${COMMAND_TITLES[fix.command.vscode]}"`;
  if ((words.includes('{option}') && !option) || (words.includes('{command}') && !command)) return undefined;
  return words.replaceAll('{option}', option ?? '').replaceAll('{command}', command ?? '');
}

function wordsFor(fix: Fix, host: Host): string | undefined {
  const own = fix[host] ?? fix.text;
  if (own !== undefined) return spell(own, fix, host);
  const ways =
    host === 'cli'
      ? [fix.flag && 'pass {option}', fix.command?.cli && 'run {command}']
      : [fix.setting && 'change {option}', fix.command?.vscode && 'run {command}'];
  const said = ways.filter((w): w is string => !!w);
  return said.length ? spell(said.join(', or '), fix, host) : undefined;
}

/**
 * The fix as `host` says it. 'any' is for text that is stored and later read by either host (a session's stop
 * reason, a trial's cause): one wording when both hosts agree, else both, labelled.
 */
export function renderFix(fix: string | Fix, host: Host | 'any'): string {
  if (typeof fix === 'string') return fix;
  if (host === 'any') {
    const cli = renderFix(fix, 'cli');
    const vscode = renderFix(fix, 'vscode');
    return cli === vscode ? cli : `CLI: ${cli} | VS Code: ${vscode}`;
  }
  return wordsFor(fix, host) ?? (host === 'vscode' ? wordsFor(fix, 'cli') : undefined) ?? '';
}

/** An error a user can act on: what went wrong (the cause) and what to do about it (the fix). */
export class HaqaError extends Error {
  /** The fix as given: one string that holds for every host, or a `Fix` each host renders (`fixFor`). */
  readonly fixSpec: string | Fix;

  constructor(
    message: string,
    fix: string | Fix,
    readonly code: 'usage' | 'input' | 'toolchain' | 'runtime' | 'llm' = 'runtime',
  ) {
    super(message);
    this.name = 'HaqaError';
    this.fixSpec = fix;
  }

  /** The fix as the CLI says it (what `fix` always was); a host other than the CLI asks `fixFor(host)`. */
  get fix(): string {
    return renderFix(this.fixSpec, 'cli');
  }

  fixFor(host: Host | 'any'): string {
    return renderFix(this.fixSpec, host);
  }

  override toString(): string {
    return `${this.message}\n  fix: ${this.fix}`;
  }
}

export function isHaqaError(e: unknown): e is HaqaError {
  return e instanceof HaqaError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * An error as `host` shows it: the cause and, for a HaqaError, the fix in that host's words. The CLI prints the fix
 * on its own line ("…\n  fix: …"), VS Code on the same one ("… — fix: …"). Anything else: its message.
 */
export function describeError(e: unknown, host: Host): string {
  if (!isHaqaError(e)) return errorMessage(e);
  return host === 'cli' ? `${e.message}\n  fix: ${e.fixFor('cli')}` : `${e.message} — fix: ${e.fixFor('vscode')}`;
}

/**
 * A failed write to the session folder, as the user's problem: which file, why (no space, no permission, read-only,
 * not a folder) and the fix. Nothing measured before it is lost: every trial is on disk before the next starts.
 */
export function storageError(e: unknown, file: string): HaqaError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const where = dirname(file);
  const then = 'then resume the session (nothing measured is lost)';
  const elsewhere = {
    cli: 'keep sessions in another folder (--session-dir)',
    vscode: 'open a workspace folder on another disk (sessions live in its .haqa folder)',
  };
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new HaqaError(
        `cannot write ${file}: no space left on the disk holding ${where} (${code})`,
        `free space on that disk, ${then}`,
        'input',
      );
    case 'EACCES':
    case 'EPERM':
      return new HaqaError(
        `cannot write ${file}: permission denied (${code})`,
        {
          cli: `make ${where} writable for this user, or ${elsewhere.cli}`,
          vscode: `make ${where} writable for this user, or ${elsewhere.vscode}`,
        },
        'input',
      );
    case 'EROFS':
      return new HaqaError(
        `cannot write ${file}: the file system is read-only (EROFS)`,
        { cli: elsewhere.cli, vscode: elsewhere.vscode },
        'input',
      );
    case 'ENOTDIR':
    case 'EEXIST':
      return new HaqaError(
        `cannot create ${file}: a file stands where a folder is needed (${code})`,
        { cli: `move that file away, or ${elsewhere.cli}`, vscode: `move that file away, or ${elsewhere.vscode}` },
        'input',
      );
    default:
      return new HaqaError(
        `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`,
        `check the disk and the folder's permissions, ${then}`,
        'input',
      );
  }
}

/** Marks an error as the machine's (a full disk), not a configuration's: a session stops on it (TrialOutcome.halt). */
export const haltingError = (e: HaqaError): HaqaError => Object.assign(e, { halts: true });
export const isHalting = (e: unknown): boolean => (e as { halts?: unknown } | null)?.halts === true;
