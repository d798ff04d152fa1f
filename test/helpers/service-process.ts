import { spawn, type ChildProcess } from 'node:child_process';
import { basename, resolve } from 'node:path';

/** The built entry point (`npm test` builds before running vitest; a built bench runs from dist/ itself). */
export const MAIN =
  basename(resolve(import.meta.dirname, '../..')) === 'dist'
    ? resolve(import.meta.dirname, '../../src/main.js')
    : resolve(import.meta.dirname, '../../dist/src/main.js');

/** A service started as a child process, exactly as `npm start` runs it. */
export interface ServiceProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly output: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Runs `node dist/src/main.js` with `env` (and nothing of this process's own configuration). */
function launch(env: Record<string, string>) {
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    errors += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => proc.on('exit', (code) => done(code)));
  return { proc, output: () => output, stderr: () => errors, exited };
}

/** Starts the service and waits until it logs the address it listens on. */
export async function startServiceProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceProcess> {
  const { proc, output, exited } = launch(env);
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      // Never leave a child behind that the caller cannot stop (it has no handle on it yet).
      proc.kill('SIGKILL');
      reject(new Error(`service did not start in ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    const onData = () => {
      const match = /failover-api listening on (http:\/\/\S+?)"/.exec(output());
      if (match) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolveUrl(match[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before listening:\n${output()}`));
    });
  });
  return {
    proc,
    url,
    output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/**
 * Runs the service expecting it to refuse to start; resolves with its exit code, everything it
 * printed (`output`), and what it printed on stderr (`stderr`: the one line a refusal prints).
 */
export async function runFailingService(env: Record<string, string>): Promise<{ code: number | null; output: string; stderr: string }> {
  const { output, stderr, exited, proc } = launch(env);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, output: output(), stderr: stderr() };
}
