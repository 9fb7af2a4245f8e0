"""Runs one command per JSON line on stdin and answers with its wall time and wait4() usage.

Started as `python -S -I spawner.py` so that it stays small: Linux carries a parent's peak RSS
into a child's ru_maxrss across fork and exec, and this keeps that floor (~8 MB) below every
Python client's own peak.
"""
import json
import os
import sys
import time

for line in sys.stdin:
    job = json.loads(line)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            err = os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(err, 2)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.execve(job["argv"][0], job["argv"], job["env"])
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    sys.stdout.write(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                                 "maxrss_kb": usage.ru_maxrss, "status": status}) + "\n")
    sys.stdout.flush()
