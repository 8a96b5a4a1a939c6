// Plain node HTTP servers on loopback that the page tests point the page at: one that stands in
// for a stranger's server and records what reaches it, and one that serves a file as a static
// web server would. Each is closed by closeAll().

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const HOST = '127.0.0.1';
const open = new Set();

function listen(handler) {
  const server = createServer(handler);
  open.add(server);
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, HOST, () => resolve(server));
  });
}

/**
 * A server that answers as a permissive livechat would (CORS for everyone, a /health that wants
 * tokens, empty history) and records every request it gets: { method, url, authorization }.
 * Resolves with { url, requests, reached }, `reached` resolving at the first request.
 */
export async function startRecorder() {
  const requests = [];
  let first;
  const reached = new Promise((resolve) => { first = resolve; });
  const server = await listen((req, res) => {
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization ?? '' });
    first();
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, Last-Event-ID');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    if (req.method === 'OPTIONS') return res.writeHead(204).end();
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname === '/health') return res.writeHead(200).end('{"status":"ok","service":"message","auth":true}');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('[]');
  });
  return { url: `http://${HOST}:${server.address().port}`, requests, reached };
}

/** A static web server that answers every GET with the file at `path`. Resolves with its URL. */
export async function serveFile(path, contentType = 'text/html; charset=utf-8') {
  const body = readFileSync(path);
  const server = await listen((req, res) => res.writeHead(200, { 'Content-Type': contentType }).end(body));
  return `http://${HOST}:${server.address().port}`;
}

export async function closeAll() {
  await Promise.all([...open].map((server) => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  })));
  open.clear();
}
