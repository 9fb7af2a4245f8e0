"""requests + sseclient-py, as in the classic streaming tutorial."""
import json
import os
import sys

import requests
import sseclient

url = os.environ["BENCH_URL"] + "/chat/completions"
body = {"model": sys.argv[1], "messages": [{"role": "user", "content": "hi"}], "stream": True}
response = requests.post(url, json=body, stream=True, headers={"Accept": "text/event-stream"})
client = sseclient.SSEClient(response)
for event in client.events():
    if event.data == "[DONE]":
        break
    content = json.loads(event.data)["choices"][0]["delta"].get("content")
    if content:
        print(content, end="", flush=True)
print()
