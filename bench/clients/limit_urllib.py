"""limit_urllib: the least a urllib client can do (issue 17's start-up floor for oai_stream).

POST with urllib.request, read the body with read1() (what one socket read delivers), json.loads
each `data:` line, write the content, flush. No retries, no checks, no limits, no SSE rules
beyond `data: ` lines.
"""
import json
import os
import sys
import urllib.request

body = {"model": sys.argv[1], "messages": [{"role": "user", "content": "hi"}], "stream": True}
request = urllib.request.Request(os.environ["BENCH_URL"] + "/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
out = sys.stdout.buffer
tail = b""
with urllib.request.urlopen(request) as response:
    while True:
        data = response.read1(65536)
        if not data:
            break
        lines = (tail + data).split(b"\n")
        tail = lines.pop()
        text = []
        for line in lines:
            if line.startswith(b"data: {"):
                content = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if content:
                    text.append(content)
        if text:
            out.write("".join(text).encode())
            out.flush()
out.write(b"\n")
out.flush()
