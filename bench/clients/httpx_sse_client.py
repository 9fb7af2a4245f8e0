"""httpx + httpx-sse."""
import json
import os
import sys

import httpx
from httpx_sse import connect_sse

body = {"model": sys.argv[1], "messages": [{"role": "user", "content": "hi"}], "stream": True}
with httpx.Client(timeout=600) as client:
    with connect_sse(client, "POST", os.environ["BENCH_URL"] + "/chat/completions", json=body) as source:
        for sse in source.iter_sse():
            if sse.data == "[DONE]":
                break
            content = json.loads(sse.data)["choices"][0]["delta"].get("content")
            if content:
                print(content, end="", flush=True)
print()
