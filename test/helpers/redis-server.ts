import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Debian's redis-server, started by a test on a free loopback port from a temp dir, without persistence (a restart
 * starts empty, as a cache-like deployment would). `stop()` and `start()` again keep the port, so clients can
 * reconnect to the "same" Redis.
 */
export interface RedisServer {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL by default (an outage), SIGTERM for a clean stop. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that holds its connections but answers nothing (a hang, a partition). */
  pause(): void;
  resume(): void;
  /** Removes the temp dir after stopping. */
  cleanup(): Promise<void>;
}

/** Fails with the package to install when a binary is missing (tests never skip silently). */
export function requireBinary(command: string, debianPackage: string): string {
  // Debian puts haproxy in /usr/sbin, which is not on every user's PATH.
  const found = spawnSync('sh', ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${command}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(`${command} is not installed: install Debian's ${debianPackage} package (apt-get install -y ${debianPackage}); .ci/run does this`);
  }
  return path;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export async function startRedisServer(): Promise<RedisServer> {
  const binary = requireBinary('redis-server', 'redis-server');
  const dir = await mkdtemp(join(tmpdir(), 'blip-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}): ${output}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill(signal);
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    cleanup: async () => {
      child?.kill('SIGCONT');
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One PING over a raw socket: true on +PONG. */
async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
