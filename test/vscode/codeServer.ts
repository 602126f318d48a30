/**
 * A real VS Code for tests: code-server 4.100.3 (VS Code 1.100.3, the last line that runs on Node 20), installed once
 * into the user cache from the npm registry, started on a free loopback port with throwaway data dirs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cacheRoot } from '../../src/core/paths';
import { freeLoopbackPort } from '../../src/core/toolchains/llamacpp/tryIt';

export const CODE_SERVER_VERSION = '4.100.3';
const RG_CACHE_NAME = 'vscode-ripgrep-cache-1.15.11';
const RG_TARBALL = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';

export function codeServerDir(): string {
  return path.join(cacheRoot(), `code-server-${CODE_SERVER_VERSION}`);
}

export function codeServerBin(): string {
  return path.join(codeServerDir(), 'node_modules', '.bin', 'code-server');
}

/** Installs code-server once (offline recipe: ripgrep cache seeded from Debian's rg, npx allowed for node-gyp). */
export function ensureCodeServer(log: (s: string) => void = () => {}): string {
  const bin = codeServerBin();
  const done = path.join(codeServerDir(), '.installed');
  if (fs.existsSync(bin) && fs.existsSync(done)) return bin;
  const rg = spawnSync('which', ['rg'], { encoding: 'utf8' }).stdout.trim();
  if (!rg) throw new Error('ripgrep is missing: apt-get install -y ripgrep libkrb5-dev chromium (see .ci/run)');
  const rgCache = path.join(os.tmpdir(), RG_CACHE_NAME);
  fs.mkdirSync(rgCache, { recursive: true });
  if (!fs.existsSync(path.join(rgCache, RG_TARBALL))) {
    const t = spawnSync('tar', ['czf', path.join(rgCache, RG_TARBALL), '-C', path.dirname(rg), path.basename(rg)]);
    if (t.status !== 0) throw new Error('could not seed the ripgrep cache');
  }
  fs.mkdirSync(codeServerDir(), { recursive: true });
  const pkg = path.join(codeServerDir(), 'package.json');
  if (!fs.existsSync(pkg)) fs.writeFileSync(pkg, '{"name":"haqa-code-server","private":true}\n');
  log(`installing code-server ${CODE_SERVER_VERSION} into ${codeServerDir()} (1-3 min, once)`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: codeServerDir(),
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, npm_config_yes: 'true', npm_config_unsafe_perm: 'true' },
  });
  if (r.status !== 0 || !fs.existsSync(bin))
    throw new Error(`code-server install failed (exit ${r.status}); libkrb5-dev and ripgrep must be installed`);
  fs.writeFileSync(done, new Date().toISOString());
  return bin;
}

export interface RunningServer {
  url: string;
  port: number;
  workspace: string;
  userDataDir: string;
  extensionsDir: string;
  stop(): Promise<void>;
  output(): string;
}

/** Starts code-server; retries on another port if the chosen one is taken meanwhile. */
export async function startCodeServer(opts: {
  workspace: string;
  extensionsDir?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  preferredPort?: number;
  settings?: Record<string, unknown>;
  trust?: boolean;
}): Promise<RunningServer> {
  const bin = ensureCodeServer((s) => process.stderr.write(`${s}\n`));
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-cs-'));
  const userDataDir = path.join(root, 'user-data');
  const extensionsDir = opts.extensionsDir ?? path.join(root, 'extensions');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({
      'security.workspace.trust.enabled': !!opts.trust,
      'workbench.startupEditor': 'none',
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'extensions.autoUpdate': false,
      'workbench.tips.enabled': false,
      ...opts.settings,
    }),
  );
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = attempt === 0 && opts.preferredPort ? opts.preferredPort : await freeLoopbackPort();
    let out = '';
    const child: ChildProcess = spawn(
      bin,
      [
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--user-data-dir',
        userDataDir,
        '--extensions-dir',
        extensionsDir,
        '--disable-telemetry',
        '--disable-update-check',
        ...(opts.trust ? [] : ['--disable-workspace-trust']),
        opts.workspace,
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
    );
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(root, { recursive: true, force: true });
    };
    // code-server says when it listens: wait on that line (or its exit), not on a clock; the bound only names a start
    // that never comes.
    const listening = /HTTP server listening on/;
    let up = await new Promise<boolean>((resolve) => {
      const settle = (v: boolean) => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        resolve(v);
      };
      const check = () => {
        if (listening.test(out)) settle(true);
      };
      const timer = setTimeout(() => settle(false), opts.timeoutMs ?? 120_000);
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      void exited.then(() => settle(false));
      check();
    });
    if (up) {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(30_000) }).catch(
        () => undefined,
      );
      up = r?.ok === true;
    }
    if (up)
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        workspace: opts.workspace,
        userDataDir,
        extensionsDir,
        stop,
        output: () => out,
      };
    await stop();
    if (!/EADDRINUSE/.test(out)) throw new Error(`code-server did not start:\n${out.slice(-3000)}`);
  }
  throw new Error('code-server: no free port after 4 attempts');
}

/** Installs a .vsix into an extensions dir with code-server's own CLI. */
export function installVsix(vsix: string, extensionsDir: string): void {
  const r = spawnSync(codeServerBin(), ['--extensions-dir', extensionsDir, '--install-extension', vsix], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`installing ${vsix} failed:\n${r.stdout}\n${r.stderr}`);
}
