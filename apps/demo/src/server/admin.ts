/**
 * The demo's admin page: connections, topics, message rates and close codes of each of
 * its WebSocket servers, over the last minutes. `GET /admin` is the page (it holds no
 * data); `GET /admin/stats` is the data, for `Authorization: Bearer <token>` only. Without
 * a token configured, both are 404: the page is off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constantTimeEqual, type ServerStats } from '@sockeye/sockeye/server';

/** Seconds between samples of the history. */
export const ADMIN_SAMPLE_SECONDS = 5;
/** Samples kept: ten minutes. */
export const ADMIN_HISTORY_LENGTH = 120;

/** One point of the history: every server's snapshot at `at` (ms since the epoch). */
export interface AdminSample {
  at: number;
  servers: Record<string, ServerStats>;
}

/** What `GET /admin/stats` answers. */
export interface AdminReport {
  now: AdminSample;
  history: AdminSample[];
}

/** Serves `/admin` and `/admin/stats`, and samples the servers every few seconds. */
export class AdminService {
  private readonly history: AdminSample[] = [];
  private readonly timer: NodeJS.Timeout;

  /**
   * @param token - the secret `/admin/stats` asks for (at least 16 characters)
   * @param servers - the WebSocket servers to show, by name
   * @throws RangeError for a token shorter than 16 characters
   */
  constructor(
    private readonly token: string,
    private readonly servers: () => Record<string, { stats(): ServerStats }>,
  ) {
    if (token.length < 16) throw new RangeError('the admin token must have at least 16 characters');
    this.timer = setInterval(() => this.sample(), ADMIN_SAMPLE_SECONDS * 1000);
    this.timer.unref();
    this.sample();
  }

  /** Answer the request if it is one of ours; returns whether it was. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/admin' && path !== '/admin/stats') return false;
    if (request.method !== 'GET') {
      response.writeHead(405, { Allow: 'GET' }).end();
      return true;
    }
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (path === '/admin') {
      response.writeHead(200, {
        ...headers,
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      });
      response.end(ADMIN_PAGE);
      return true;
    }
    const authorization = request.headers.authorization ?? '';
    const given = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
    if (!constantTimeEqual(given, this.token)) {
      response.writeHead(401, { ...headers, 'WWW-Authenticate': 'Bearer', 'Content-Type': 'text/plain' });
      response.end('a valid admin token is needed\n');
      return true;
    }
    const report: AdminReport = { now: this.snapshot(), history: this.history };
    response.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
    response.end(JSON.stringify(report));
    return true;
  }

  /** Stop sampling. */
  close(): void {
    clearInterval(this.timer);
  }

  private snapshot(): AdminSample {
    const servers: Record<string, ServerStats> = {};
    for (const [name, server] of Object.entries(this.servers())) servers[name] = server.stats();
    return { at: Date.now(), servers };
  }

  private sample(): void {
    this.history.push(this.snapshot());
    if (this.history.length > ADMIN_HISTORY_LENGTH) this.history.shift();
  }
}

/**
 * The page: asks for the token (kept in this tab's sessionStorage), polls
 * `/admin/stats` every 5 s, and draws a table per server, rates from the last two
 * samples, close codes, and the connections over the history as a line.
 */
const ADMIN_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sockeye demo: admin</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 2rem; color: #222; }
  table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
  th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  #error { color: #b00; }
  svg { border: 1px solid #ccc; }
</style>
</head>
<body>
<h1>sockeye demo: admin</h1>
<form id="login"><label>Admin token <input id="token" type="password" autocomplete="off"></label> <button>Show</button></form>
<p id="error"></p>
<div id="report" hidden>
  <h2>Servers</h2>
  <table id="servers"><thead><tr><th>server</th><th>connections</th><th>sockets</th><th>topics</th><th>subscriptions</th><th>queued bytes</th><th>handshakes ok</th><th>refused</th><th>messages in/s</th><th>messages out/s</th><th>bytes in/s</th><th>bytes out/s</th></tr></thead><tbody></tbody></table>
  <h2>Connections over the last minutes</h2>
  <svg id="chart" width="600" height="120" viewBox="0 0 600 120"></svg>
  <h2>Close codes</h2>
  <table id="codes"><thead><tr><th>server</th><th>code</th><th>count</th></tr></thead><tbody></tbody></table>
  <h2>Limits hit</h2>
  <table id="limits"><thead><tr><th>server</th><th>limit</th><th>count</th></tr></thead><tbody></tbody></table>
</div>
<script>
const tokenInput = document.getElementById('token');
const errorLine = document.getElementById('error');
tokenInput.value = sessionStorage.getItem('sockeye-admin-token') || '';
document.getElementById('login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem('sockeye-admin-token', tokenInput.value);
  refresh();
});
function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}
function rate(now, before, read) {
  if (!before) return 0;
  const seconds = (now.at - before.at) / 1000;
  return seconds > 0 ? ((read(now) - read(before)) / seconds).toFixed(1) : 0;
}
function draw(history) {
  const svg = document.getElementById('chart');
  svg.replaceChildren();
  const totals = history.map((sample) => Object.values(sample.servers).reduce((sum, s) => sum + s.connections, 0));
  const top = Math.max(1, ...totals);
  const points = totals.map((total, i) => (i * 600) / Math.max(1, totals.length - 1) + ',' + (115 - (total / top) * 105)).join(' ');
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', points);
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#36c');
  svg.append(line);
  const label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  label.setAttribute('x', '4');
  label.setAttribute('y', '14');
  label.textContent = 'max ' + top;
  svg.append(label);
}
async function refresh() {
  const token = sessionStorage.getItem('sockeye-admin-token') || '';
  if (!token) return;
  let report;
  try {
    const response = await fetch('/admin/stats', { headers: { Authorization: 'Bearer ' + token } });
    if (!response.ok) throw new Error(response.status === 401 ? 'wrong token' : 'HTTP ' + response.status);
    report = await response.json();
  } catch (error) {
    errorLine.textContent = String(error.message || error);
    return;
  }
  errorLine.textContent = '';
  document.getElementById('report').hidden = false;
  const before = [...report.history].reverse().find((sample) => sample.at <= report.now.at - 1000);
  const servers = document.querySelector('#servers tbody');
  const codes = document.querySelector('#codes tbody');
  const limits = document.querySelector('#limits tbody');
  servers.replaceChildren();
  codes.replaceChildren();
  limits.replaceChildren();
  for (const [name, s] of Object.entries(report.now.servers)) {
    const was = before && before.servers[name] ? { at: before.at, s: before.servers[name] } : null;
    const now = { at: report.now.at, s };
    servers.append(row([name, s.connections, s.sockets, s.topics, s.subscriptions, s.queuedBytes, s.handshakes.accepted, s.handshakes.rejected,
      rate(now, was, (x) => x.s.messages.in), rate(now, was, (x) => x.s.messages.out),
      rate(now, was, (x) => x.s.bytes.in), rate(now, was, (x) => x.s.bytes.out)]));
    for (const [code, count] of Object.entries(s.closeCodes)) codes.append(row([name, code, count]));
    for (const [kind, count] of Object.entries(s.limits)) limits.append(row([name, kind, count]));
  }
  draw([...report.history, report.now]);
}
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
`;
