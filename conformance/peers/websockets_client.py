"""Interop peer: Python `websockets` (asyncio client) against a sockeye echo server.

Usage: python websockets_client.py ws://127.0.0.1:PORT

Runs each scenario on its own connection and prints one JSON line per scenario with what
it observed (never a verdict: conformance/interop-python.test.ts makes the assertions):
  {"scenario": "...", ...observations}      or      {"scenario": "...", "error": "..."}
The last line is {"done": true}. Exit code 0 unless the script itself crashed.
"""

import asyncio
import hashlib
import json
import os
import sys
import urllib.parse

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

BASE = sys.argv[1].rstrip("/")
TIMEOUT = 20  # seconds per scenario: a guard against a hang, not a measurement
ONE_MIB = 1024 * 1024


def client(path="/", **kwargs):
    # No keepalive pings (they would interleave with the scenarios); room for 1 MiB echoes.
    return connect(BASE + path, ping_interval=None, max_size=4 * ONE_MIB, **kwargs)


def kind(message):
    return "text" if isinstance(message, str) else "binary"


async def text():
    async with client() as ws:
        await ws.send("héllo, wörld ✓")
        reply = await ws.recv()
        return {"type": kind(reply), "data": reply if isinstance(reply, str) else reply.hex()}


async def binary():
    payload = bytes([0, 1, 2, 0xFE, 0xFF, 0x80, 0x7F])
    async with client() as ws:
        await ws.send(payload)
        reply = await ws.recv()
        return {"type": kind(reply), "sent": payload.hex(), "data": reply.hex() if isinstance(reply, bytes) else reply}


async def empty():
    async with client() as ws:
        await ws.send("")
        first = await ws.recv()
        await ws.send(b"")
        second = await ws.recv()
        return {"text": {"type": kind(first), "length": len(first)}, "binary": {"type": kind(second), "length": len(second)}}


async def one_mib():
    payload = os.urandom(ONE_MIB)
    async with client() as ws:
        await ws.send(payload)
        reply = await ws.recv()
        return {
            "type": kind(reply),
            "length": len(reply),
            "sentSha256": hashlib.sha256(payload).hexdigest(),
            "receivedSha256": hashlib.sha256(reply if isinstance(reply, bytes) else reply.encode()).hexdigest(),
        }


async def subprotocol():
    async with client(subprotocols=["chat.v2", "chat.v1"]) as ws:
        return {"protocol": ws.subprotocol}


async def client_close():
    async with client() as ws:
        await ws.close(4000, "client says bye")
        return {"code": ws.close_code, "reason": ws.close_reason}


async def server_close():
    reason = urllib.parse.quote("server says bye")
    async with client(f"/?close=4001&reason={reason}") as ws:
        await ws.send("last words")
        echoed = await ws.recv()
        try:
            extra = await ws.recv()
            return {"echoed": echoed, "error": f"expected a close, got another message {extra!r}"}
        except ConnectionClosed as closed:
            received = closed.rcvd
            return {
                "echoed": echoed,
                "code": received.code if received else None,
                "reason": received.reason if received else None,
            }


async def client_ping():
    async with client() as ws:
        # The waiter resolves only on a pong whose payload matches this ping's.
        waiter = await ws.ping(b"are you there?")
        await waiter
        return {"pong": True}


async def server_ping():
    async with client("/?ping=x") as ws:
        # websockets answers the server's ping by itself; the server then says so.
        reply = await ws.recv()
        return {"type": kind(reply), "data": reply if isinstance(reply, str) else reply.hex()}


SCENARIOS = {
    "text": text,
    "binary": binary,
    "empty": empty,
    "1mib": one_mib,
    "subprotocol": subprotocol,
    "client-close": client_close,
    "server-close": server_close,
    "client-ping": client_ping,
    "server-ping": server_ping,
}


async def main():
    print(json.dumps({"version": websockets.__version__}), flush=True)
    for name, scenario in SCENARIOS.items():
        try:
            observed = await asyncio.wait_for(scenario(), TIMEOUT)
        except Exception as error:  # reported to the test, which fails with it
            observed = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps({"scenario": name, **observed}), flush=True)
    print(json.dumps({"done": True}), flush=True)


asyncio.run(main())
