// Starts and stops real livechat services for the browser tests.
//
// The binary comes from LIVECHAT_BINARY (ctest sets it). Every process started here is
// stopped by stopAll(), and killed outright if the test process exits before that. The
// services run in a fresh temporary directory, so that nothing they write lands in the
// work tree and no state carries over from one run to the next.

import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export function livechatBinary() {
  const path = process.env.LIVECHAT_BINARY;
  if (!path) {
    throw new Error('LIVECHAT_BINARY is not set: point it at the built livechat binary, '
      + 'e.g. LIVECHAT_BINARY=build/release/livechat node --test tests/browser/');
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`LIVECHAT_BINARY=${path} is not an executable file: build livechat first`);
  }
  return path;
}

/** A TCP port that is free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const running = new Set();
let workDir = null;
function killAll() {
  for (const service of running) service.child.kill('SIGKILL');
  removeWorkDir();
}
process.on('exit', killAll);
// Stopped from outside (Ctrl-C, a runner's timeout): take the services along, then stop as asked.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

function removeWorkDir() {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = null;
}

class Service {
  constructor(args, ready) {
    this.args = args;
    this.log = '';
    this.urls = {};
    this.stopping = false;
    workDir ??= mkdtempSync(join(tmpdir(), 'livechat-browser-'));
    this.child = spawn(livechatBinary(), args, { cwd: workDir, stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        running.delete(this);
        if (!this.stopping) {
          const how = signal ?? `exit code ${code}`;
          process.stderr.write(`livechat ${this.args[0]} exited by itself (${how}); its log:\n${this.log}\n`);
        }
        resolve({ code, signal });
      });
    });
    this.ready = this.#waitUntilListening(ready);
  }

  // Resolves once every service named in `ready` has logged "<name> listening on <url>".
  #waitUntilListening(names) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!error) return resolve(this);
        this.child.kill('SIGKILL');
        reject(new Error(`livechat ${this.args.join(' ')}: ${error}\n${this.log}`));
      };
      const timer = setTimeout(() => settle(`not listening after ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
      this.child.on('error', (e) => settle(e.message));
      this.child.on('exit', (code, signal) => settle(`exited early (${signal ?? code})`));
      this.child.stderr.setEncoding('utf8');
      this.child.stderr.on('data', (chunk) => {
        this.log += chunk;  // read on for good: a full pipe would block the service
        for (const name of names) {
          const m = this.log.match(new RegExp(`${name} service listening on (https?://\\S+)`));
          if (m) this.urls[name] = m[1].replace(/\/+$/, '');
        }
        if (names.every((name) => this.urls[name])) settle();
      });
    });
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not exited in time. Resolves with how it exited. */
  async stop() {
    if (!this.running) return this.exited;
    this.stopping = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

/**
 * `livechat serve`: both services in one process, the message service on a port of its own
 * choosing. The page finds the notification service at the URL the service gives it, which is
 * localhost unless told otherwise; these tests keep to 127.0.0.1, so they pick that port here
 * (and pick again in the rare case that something else took it in the meantime). With
 * `scheme: 'https'`, give it --tls-cert and --tls-key in `extra`.
 */
export async function startServe(extra = [], { scheme = 'http' } = {}) {
  for (let attempt = 1; ; attempt++) {
    const notifyPort = await freePort();
    const service = new Service([
      'serve', '--host', HOST, '--port', '0', '--notify-port', String(notifyPort),
      '--public-notify-url', `${scheme}://${HOST}:${notifyPort}`, ...extra,
    ], ['notification', 'message']);
    try {
      return await service.ready;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/** `livechat serve-notify` alone; port 0: any free port (see .urls.notification). */
export async function startNotify({ port = 0, retryMs = 200 } = {}) {
  return new Service([
    'serve-notify', '--host', HOST, '--port', String(port), '--retry', String(retryMs),
  ], ['notification']).ready;
}

/** `livechat serve-message` alone, handing messages to the notification service at notifyUrl. */
export async function startMessage({ port = 0, notifyUrl }) {
  return new Service([
    'serve-message', '--host', HOST, '--port', String(port), '--notify-url', notifyUrl,
  ], ['message']).ready;
}

export async function stopAll() {
  await Promise.all([...running].map((service) => service.stop()));
  removeWorkDir();
}

/** POST /messages (as the user of `token`, if given); resolves with { status, body }. */
export async function postMessage(messageUrl, message, { token = '' } = {}) {
  const res = await fetch(`${messageUrl}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: await res.json() };
}

/** GET /messages?room=R&limit=N; resolves with the array. */
export async function history(messageUrl, room, { limit = 1000, token = '' } = {}) {
  const res = await fetch(`${messageUrl}/messages?${new URLSearchParams({ room, limit })}`, {
    signal: AbortSignal.timeout(5_000),
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok) throw new Error(`GET /messages: HTTP ${res.status}`);
  return res.json();
}

/** A user token from `livechat token`, for services run with --auth-secret `secret`. */
export function mintToken(user, secret, ttl = '1h') {
  return execFileSync(livechatBinary(), ['token', '--user', user, '--ttl', ttl, '--secret', secret],
    { encoding: 'utf8' }).trim();
}
