// A script written for the browser's WebSocket API only. The same text runs unchanged in
// Chromium and in Node (with sockeye's WebSocket as `WebSocket`); the results must match.
// It defines runScenario(base, refusedUrl, abortUrl) and resolves with a JSON-friendly record.

// biome-ignore lint/correctness/noUnusedVariables: called by the page and by the Node test.
async function runScenario(base, refusedUrl, abortUrl) {
  const results = [];
  const log = (...entry) => results.push(entry.join(' '));

  function describe(data) {
    if (typeof data === 'string') return Promise.resolve(`string:${data}`);
    if (data instanceof ArrayBuffer)
      return Promise.resolve(`arraybuffer:${[...new Uint8Array(data)].join(',')}`);
    if (data instanceof Blob)
      return data.arrayBuffer().then((b) => `blob:${[...new Uint8Array(b)].join(',')}`);
    return Promise.resolve(`other:${typeof data}`);
  }

  function errorName(run) {
    try {
      run();
      return 'no error';
    } catch (error) {
      return error.name;
    }
  }

  // 1. A full exchange: text, Blob, ArrayBuffer, a view; both binaryTypes; a clean close.
  await new Promise((resolve) => {
    const ws = new WebSocket(`${base}/chat?x=1`, ['chat', 'superchat']);
    log('constructed', ws.readyState, ws.url.replace(base, 'BASE'), ws.binaryType, ws.bufferedAmount);
    log(
      'send while connecting',
      errorName(() => ws.send('early')),
    );
    const pending = [];
    let count = 0;
    ws.onopen = (event) => {
      log('open', event.type, ws.readyState, ws.protocol, `[${ws.extensions}]`);
      ws.send('hello \u00e9\u{1f600}');
      ws.send(new Blob([new Uint8Array([1, 2, 3])]));
      ws.send(new Uint8Array([4, 5, 6]).buffer);
      ws.send(new Uint8Array([0, 7, 8, 9, 0]).subarray(1, 4));
      log('bufferedAmount after sends', ws.bufferedAmount > 0);
    };
    ws.onmessage = (event) => {
      count += 1;
      log('message', count, event.origin.replace(base, 'BASE'), ws.binaryType);
      pending.push(describe(event.data));
      if (count === 2) ws.binaryType = 'arraybuffer';
      if (count === 4) {
        log(
          'close 999',
          errorName(() => ws.close(999)),
        );
        log(
          'close long reason',
          errorName(() => ws.close(1000, 'x'.repeat(124))),
        );
        ws.close(1000, 'done');
        log('after close()', ws.readyState);
        ws.send('ignored');
        log('bufferedAmount grows after close', ws.bufferedAmount >= 7);
      }
    };
    ws.onerror = () => log('error', ws.readyState);
    ws.onclose = async (event) => {
      log('close', ws.readyState, event.code, event.reason, event.wasClean);
      for (const line of await Promise.all(pending)) log('data', line);
      resolve();
    };
  });

  // 2. The server closes with a code and reason.
  await new Promise((resolve) => {
    const ws = new WebSocket(`${base}/?close=4001&reason=bye`);
    ws.onopen = () => ws.send('x');
    ws.onmessage = (event) => log('server-close message', event.data, ws.readyState);
    ws.onerror = () => log('server-close error', ws.readyState);
    ws.onclose = (event) => {
      log('server-close close', ws.readyState, event.code, event.reason, event.wasClean);
      resolve();
    };
  });

  // 3. Nothing listens: error, then close 1006.
  await new Promise((resolve) => {
    const ws = new WebSocket(refusedUrl);
    ws.onopen = () => log('refused open?!');
    ws.onerror = (event) => log('refused error', event.type, ws.readyState);
    ws.onclose = (event) => {
      log('refused close', ws.readyState, event.code, event.reason, event.wasClean);
      resolve();
    };
  });

  // 4. The server sends a message and, once answered, resets the TCP connection.
  await new Promise((resolve) => {
    const ws = new WebSocket(abortUrl);
    ws.onopen = () => log('abort open', ws.readyState);
    ws.onmessage = (event) => {
      log('abort message', event.data);
      ws.send('ack');
    };
    ws.onerror = (event) => log('abort error', event.type, ws.readyState);
    ws.onclose = (event) => {
      log('abort close', ws.readyState, event.code, event.reason, event.wasClean);
      resolve();
    };
  });

  // 5. The constructor's errors.
  log(
    'ftp',
    errorName(() => new WebSocket('ftp://127.0.0.1/')),
  );
  log(
    'fragment',
    errorName(() => new WebSocket(`${base}/#frag`)),
  );
  log(
    'duplicate protocols',
    errorName(() => new WebSocket(base, ['a', 'a'])),
  );
  log('constants', WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED);
  return results;
}
