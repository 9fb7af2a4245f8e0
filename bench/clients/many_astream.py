"""oai_stream.astream(): native asyncio, one task per stream."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import oai_stream  # noqa: E402  (the repository's own file, not a copy)
from many_streams import run_async  # noqa: E402


def open_stream(url: str, model: str):
    return oai_stream.astream("hi", base_url=url, model=model, api_key="unused", timeout=60, retries=0)


run_async(open_stream)
