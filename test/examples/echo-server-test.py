#!/usr/bin/env python3
"""echo-server-test.py BIN -- checks the echo-server example.

Starts BIN on a free TCP port and a unix socket, then for each: sends 8 MiB
while not reading for a moment (the server must apply back-pressure, not
buffer it all), half-closes, and expects the exact bytes back followed by
EOF. Finally sends SIGTERM with clients still connected and expects exit
status 0 and the socket file gone. Prints "N passed, N failed"."""
import os, signal, socket, subprocess, sys, tempfile, threading, time

def roundtrip(s):
    data = os.urandom(8 * 1024 * 1024)
    got = bytearray()
    s.settimeout(30)
    def reader():
        while True:
            b = s.recv(65536)
            if not b:
                return
            got.extend(b)
    def writer():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    w = threading.Thread(target=writer)
    w.start()
    time.sleep(0.5)
    r = threading.Thread(target=reader)
    r.start()
    w.join()
    r.join()
    return bytes(got) == data

def main():
    binp = sys.argv[1]
    d = tempfile.mkdtemp()
    sock = os.path.join(d, "echo.sock")
    p = subprocess.Popen([binp, "-p", "0", "-u", sock], stdout=subprocess.PIPE,
                         text=True)
    tcp_line, pipe_line = p.stdout.readline().strip(), p.stdout.readline().strip()
    results = []
    ok = tcp_line.startswith("listening on tcp://127.0.0.1:") and \
        pipe_line == "listening on unix://" + sock
    results.append(("listening lines", ok))
    port = int(tcp_line.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        results.append(("tcp echo + EOF", roundtrip(s)))
    with socket.socket(socket.AF_UNIX) as u:
        u.connect(sock)
        results.append(("pipe echo + EOF", roundtrip(u)))
    a = socket.create_connection(("127.0.0.1", port))
    b = socket.socket(socket.AF_UNIX)
    b.connect(sock)
    a.sendall(b"x" * 100000)          # left unread at shutdown
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "timeout"
    results.append(("SIGTERM exit 0", rc == 0))
    results.append(("socket file removed", not os.path.exists(sock)))
    a.close()
    b.close()
    failed = 0
    for name, good in results:
        print(("ok   " if good else "FAIL ") + name)
        failed += not good
    print("%d passed, %d failed" % (len(results) - failed, failed))
    if os.path.exists(sock):
        os.unlink(sock)
    os.rmdir(d)
    return 1 if failed else 0

sys.exit(main())
