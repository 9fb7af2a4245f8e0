"""The official openai SDK."""
import os
import sys

from openai import OpenAI

client = OpenAI(base_url=os.environ["BENCH_URL"], api_key="unused")
stream = client.chat.completions.create(model=sys.argv[1], stream=True,
                                        messages=[{"role": "user", "content": "hi"}])
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()
