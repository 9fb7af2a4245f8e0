"""httpx.AsyncClient + httpx-sse's aconnect_sse, one task per stream, one client."""
import json

import httpx
from httpx_sse import aconnect_sse

from many_streams import run_async

# httpx's default pool (100 connections) would queue streams 101..N, and its 5 s pool timeout fail them
client = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None, max_keepalive_connections=100))


async def open_stream(url: str, model: str):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with aconnect_sse(client, "POST", url + "/chat/completions", json=body) as source:
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                break
            content = json.loads(sse.data)["choices"][0]["delta"].get("content")
            if content:
                yield content


run_async(open_stream, client.aclose)
