"""Python `websockets` echo server for sockeye's client interop tests.

Run with the project venv: `.venv/bin/python conformance/peers/websockets_server.py
[--deflate] PORT`. Prints `listening on ws://127.0.0.1:PORT` once ready. Without
`--deflate` it refuses permessage-deflate; with it, it accepts the client's offer with
websockets' default settings (which limit the server's window to 12 bits). Keeps the
contract of conformance/echo-server.ts:
- echoes every message with its type;
- selects the first subprotocol the client offers;
- `?close=<code>&reason=<text>`: after echoing the first message, closes with that code and reason;
- `?ping=<payload>`: pings right after the handshake and, when the pong arrives, sends the
  text message `pong:<payload>`.
"""

import asyncio
import sys
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve


def select_subprotocol(connection, subprotocols):
    return subprotocols[0] if subprotocols else None


async def handler(websocket):
    query = parse_qs(urlsplit(websocket.request.path).query)
    if "ping" in query:
        payload = query["ping"][0]
        waiter = await websocket.ping(payload.encode())
        await waiter
        await websocket.send(f"pong:{payload}")
    async for message in websocket:
        await websocket.send(message)
        if "close" in query:
            await websocket.close(int(query["close"][0]), query.get("reason", [""])[0])
            return


async def main(port, deflate):
    async with serve(
        handler,
        "127.0.0.1",
        port,
        select_subprotocol=select_subprotocol,
        max_size=64 * 1024 * 1024,
        compression="deflate" if deflate else None,
    ):
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(int(args[-1]), "--deflate" in args[:-1]))
