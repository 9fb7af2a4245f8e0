"""The official SDK's AsyncOpenAI, one task per stream, one client (its default pool: 1,000 connections)."""
import sys

from openai import AsyncOpenAI

from many_streams import run_async

client = AsyncOpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0)  # as the others: no retries


async def open_stream(url: str, model: str):
    stream = await client.chat.completions.create(
        model=model, stream=True, messages=[{"role": "user", "content": "hi"}])
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


run_async(open_stream, client.close)
