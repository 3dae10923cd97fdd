/**
 * The demo's control endpoint, for the Reconnect page's buttons: `POST /control/cut?tab=<id>`,
 * `POST /control/blackhole?tab=<id>` (that tab's Reconnect link) and `POST /control/restart`
 * (the demo's socket services, with everything they know carried through the state, as
 * across a restart of the process). Only in the demo, and only when turned on (the demo
 * turns it on when it listens on a loopback address): it lets a page break links and
 * restart the server. It answers only same-origin requests (a page elsewhere cannot
 * use it), 204 when done, 404 for a tab with no link, 409 for a restart of a demo that
 * shares its chat through a broker (restart its process instead), 403/405 otherwise.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTROL_PATH } from '../shared/routes.js';
import { isTabId } from './reconnect.js';

/** What the control endpoint acts on. */
export interface ControlActions {
  /** Destroy the tab's connection. @returns false when it has none */
  cut(tab: string): boolean;
  /** Black-hole the tab's connection. @returns false when it has none */
  blackhole(tab: string): boolean;
  /** Whether {@link ControlActions.restart} can restart (not with a broker). */
  canRestart: boolean;
  /** Restart the socket services (after the answer is sent). */
  restart(): void;
}

/**
 * A request handler for `/control/*`.
 * @returns a handler that answers and returns true for control requests, false for anything else
 */
export function controlHandler(
  actions: () => ControlActions,
): (request: IncomingMessage, response: ServerResponse) => boolean {
  return (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith(`${CONTROL_PATH}/`)) return false;
    const answer = (status: number, text = '') => {
      response.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      response.end(text === '' ? undefined : `${text}\n`);
    };
    if (request.method !== 'POST') {
      response.setHeader('Allow', 'POST');
      answer(405, 'method not allowed');
      return true;
    }
    // Same origin only: the Origin a browser sends must name this host.
    const origin = request.headers.origin;
    if (origin === undefined || origin !== `http://${request.headers.host ?? ''}`) {
      answer(403, 'same-origin requests only');
      return true;
    }
    const action = url.pathname.slice(CONTROL_PATH.length + 1);
    const tab = url.searchParams.get('tab');
    switch (action) {
      case 'cut':
      case 'blackhole':
        if (!isTabId(tab)) answer(400, 'tab=<id> expected');
        else if (actions()[action](tab)) answer(204);
        else answer(404, 'no link for that tab');
        return true;
      case 'restart':
        if (!actions().canRestart) {
          answer(409, 'this demo server shares its room through a broker: restart its process instead');
          return true;
        }
        answer(204);
        response.once('finish', () => actions().restart());
        return true;
      default:
        answer(404, 'unknown control');
        return true;
    }
  };
}
