import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, requireBinary } from '../../helpers/redis-server.ts';

/**
 * Real parts for the fleet tests: gateway processes started as `npm start` starts them, Debian's haproxy in front of
 * them, and an HTTP client that reports resets and timeouts instead of hiding them.
 */
const MAIN = fileURLToPath(new URL('../../../src/main.ts', import.meta.url));

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  requestId?: string;
  status?: number;
  [key: string]: unknown;
}

export interface Replica {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** Every JSON line the process logged so far. */
  logs: LogLine[];
  /** Resolves with the exit code (null after a signal) and the signal. */
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** Request ids this replica logged a finished request for. */
  requestIds(): Set<string>;
}

export async function startReplica(name: string, env: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  // Never leave a replica behind, even when the test process dies first.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Read the log to its end: closing the pipe early would make the server's next write fail.
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      logs.push({ level: 0, time: Date.now(), msg: line });
    }
    for (const wake of waiters) wake();
  });
  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs: number) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = logs.find(match);
        if (found) {
          cleanup();
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          cleanup();
          reject(new Error(`${name} exited before the expected log line; stderr: ${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name}: no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(logs.slice(-3))}; stderr: ${stderr}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      void exited.then(check);
      check();
    });
  let listening: LogLine;
  try {
    listening = await waitForLog((line) => line.msg === 'blip-gateway is listening', 120_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const url = new URL(String(listening.url)).origin;
  return {
    name,
    port: Number(new URL(url).port),
    url,
    child,
    logs,
    exited,
    waitForLog,
    requestIds: () => new Set(logs.filter((line) => line.msg === 'request' && line.requestId).map((line) => line.requestId!)),
  };
}

export interface Balancer {
  url: string;
  /** Each server's status as haproxy's health checks see it (UP, DOWN, ...), from the stats socket. */
  serverStatus(): Promise<Record<string, string>>;
  /** Each server's current sessions (requests haproxy has open on it). */
  serverSessions(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export interface BalancerOptions {
  /** Address haproxy connects to the replicas from (what TRUST_PROXY trusts). */
  sourceAddress: string;
  /** Health check interval. */
  checkIntervalMs: number;
}

/**
 * haproxy doing round-robin over the replicas, health-checking GET /readyz, retrying a request on another replica
 * when its connection failed or closed without a response. Loopback only; the config is a temp file.
 */
export async function startBalancer(dir: string, replicas: Replica[], options: BalancerOptions): Promise<Balancer> {
  const binary = requireBinary('haproxy', 'haproxy');
  const port = await freePort();
  const socket = join(dir, 'haproxy.sock');
  const config = [
    'global',
    '  maxconn 512',
    `  stats socket ${socket} level admin`,
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-request 10s',
    '  option forwardfor',
    '  option redispatch',
    '  retries 2',
    '  retry-on conn-failure empty-response',
    'frontend gateway',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  source ${options.sourceAddress}`,
    '  http-response set-header x-served-by %s',
    // Two failed checks take a replica out (one slow check on a loaded machine should not), one brings it back.
    '  timeout check 1500ms',
    `  default-server inter ${options.checkIntervalMs}ms fastinter ${options.checkIntervalMs}ms downinter ${options.checkIntervalMs}ms fall 2 rise 1`,
    ...replicas.map((replica) => `  server ${replica.name} 127.0.0.1:${replica.port} check`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const child = spawn(binary, ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // `show stat` is CSV: pxname, svname, qcur, qmax, scur (4), ..., status (17).
  const column = async (index: number) => {
    const csv = await adminCommand(socket, 'show stat');
    const values: Record<string, string> = {};
    for (const row of csv.split('\n').slice(1)) {
      const cells = row.split(',');
      if (cells[0] === 'replicas' && cells[1] !== 'BACKEND') values[cells[1]] = cells[index];
    }
    return values;
  };
  const serverStatus = () => column(17);
  const serverSessions = async () => Object.fromEntries(Object.entries(await column(4)).map(([name, value]) => [name, Number(value)]));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}): ${output}`);
    const status = await serverStatus().catch(() => ({}) as Record<string, string>);
    if (replicas.every((replica) => status[replica.name] === 'UP')) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not see every replica UP within 15 s: ${JSON.stringify(status)} ${output}`);
    await sleep(100);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    serverStatus,
    serverSessions,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exit = once(child, 'exit');
      child.kill('SIGTERM');
      await exit;
    },
  };
}

function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = connect(socket);
    let data = '';
    connection.setTimeout(2000, () => connection.destroy(new Error('haproxy stats socket timed out')));
    connection.on('connect', () => connection.write(`${command}\n`));
    connection.on('data', (chunk) => (data += chunk.toString()));
    connection.on('end', () => resolve(data));
    connection.on('error', reject);
  });
}

export interface HttpOutcome {
  /** 0 when the request failed without a response. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** The transport error code when there was no response (ECONNRESET, ECONNREFUSED, TIMEOUT, ...). */
  error?: string;
  ms: number;
  requestId: string;
}

let sequence = 0;

/**
 * POSTs JSON on a new connection from `localAddress` (a loopback address: a distinct client for the rate limit),
 * with an `x-request-id` to find the request in the replicas' logs. Never throws: a reset or a timeout is an outcome.
 */
export function postJson(url: string, body: unknown, options: { localAddress?: string; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<HttpOutcome> {
  const requestId = `fleet-${process.pid}-${++sequence}`;
  const payload = Buffer.from(JSON.stringify(body));
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: Omit<HttpOutcome, 'ms' | 'requestId'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, ms: performance.now() - started, requestId });
    };
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        localAddress: options.localAddress ?? '127.0.0.1',
        headers: { 'content-type': 'application/json', 'content-length': payload.length, 'x-request-id': requestId, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (an haproxy error page): kept as text
          }
          settle({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
        res.on('error', (error: NodeJS.ErrnoException) => settle({ status: 0, headers: {}, body: undefined, error: error.code ?? error.message }));
      },
    );
    req.setTimeout(options.timeoutMs ?? 20_000, () => {
      settle({ status: 0, headers: {}, body: undefined, error: 'TIMEOUT' });
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) => settle({ status: 0, headers: {}, body: undefined, error: error.code ?? error.message }));
    req.end(payload);
  });
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

/** Polls `check` every 20 ms until it holds; throws after `timeoutMs`. Returns the milliseconds it took. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
  return Math.round(performance.now() - started);
}

/** One sample of a Prometheus text exposition, without labels (0 when absent). */
export async function metricValue(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
