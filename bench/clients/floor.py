"""The floor: copy socket bytes to stdout without parsing anything."""
import os
import socket
import sys
from urllib.parse import urlsplit

url = urlsplit(os.environ["BENCH_URL"])
body = ('{"model":"%s","messages":[{"role":"user","content":"hi"}],"stream":true}' % sys.argv[1]).encode()
sock = socket.create_connection((url.hostname, url.port))
sock.sendall(b"POST %s/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
             % (url.path.encode(), url.netloc.encode(), len(body), body))
while True:
    data = sock.recv(65536)
    if not data:
        break
    os.write(1, data)
