import { Duplex, type DuplexOptions } from 'node:stream';
import type { RawData, WebSocket } from './websocket.js';

/**
 * A Node `Duplex` stream over a {@link WebSocket}, as `ws`'s `createWebSocketStream`:
 * each message read is a chunk (text as a `string` in object mode, otherwise bytes);
 * each chunk written is sent as a message; ending the writable side closes the
 * WebSocket; destroying the stream terminates it. Reading stops (`pause()`) while the
 * stream's buffer is full.
 */
export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  let terminateOnDestroy = true;
  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false,
  });

  ws.on('message', (message: RawData, isBinary: boolean) => {
    const data = !isBinary && duplex.readableObjectMode ? message.toString() : message;
    if (!duplex.push(data)) ws.pause();
  });
  ws.once('error', (error: Error) => {
    if (duplex.destroyed) return;
    // The WebSocket is already closing because of it: no need to terminate.
    terminateOnDestroy = false;
    duplex.destroy(error);
  });
  ws.once('close', () => {
    if (duplex.destroyed) return;
    duplex.push(null);
  });

  duplex._destroy = (error, callback) => {
    if (ws.readyState === ws.CLOSED) {
      callback(error);
      process.nextTick(() => duplex.emit('close'));
      return;
    }
    let called = false;
    ws.once('error', (wsError: Error) => {
      called = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!called) callback(error);
      process.nextTick(() => duplex.emit('close'));
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = function final(callback) {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => final(callback));
      return;
    }
    const socket = ws._socket;
    if (socket === null) return;
    if (socket.writableFinished) {
      callback();
      if (duplex.readableEnded) duplex.destroy();
    } else {
      socket.once('finish', () => callback());
      ws.close();
    }
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = function write(chunk: Buffer, encoding, callback) {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => write(chunk, encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', function onEnd(this: Duplex) {
    if (!this.destroyed && this.writableFinished) this.destroy();
  });
  duplex.on('error', function onError(this: Duplex, error: Error) {
    this.removeListener('error', onError);
    this.destroy();
    if (this.listenerCount('error') === 0) this.emit('error', error);
  });
  return duplex;
}
