#!/usr/bin/env python3
# Cold start: starts the release binary on a new empty database RUNS times
# and times it to its first answered request for PATH (default "/", the
# page; "/favicon.svg" times the site files). Usage:
#   python3 scripts/cold-start.py target/release/flack [PATH] [RUNS]
import subprocess, socket, time, sys, os, tempfile
binary = sys.argv[1]; path = sys.argv[2] if len(sys.argv) > 2 else '/'; runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
out = []
for r in range(runs):
    d = tempfile.mkdtemp()
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, '--addr', '127.0.0.1:3599', '--database', d + '/c.db', '--config', '/nonexistent'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, 'RUST_LOG': 'warn'})
    while True:
        try:
            s = socket.create_connection(('127.0.0.1', 3599), timeout=1)
            s.sendall(f'GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'.encode())
            data = s.recv(100)
            s.close()
            if data.startswith(b'HTTP/1.1 200'): break
        except OSError:
            time.sleep(0.0005)
    out.append((time.perf_counter() - t0) * 1000)
    p.terminate(); p.wait()
print(path, ' '.join(f'{x:.0f}' for x in out), 'ms')
