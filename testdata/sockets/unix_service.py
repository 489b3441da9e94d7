# A unix socket service that, as many do, unlinks its path before binding
# it: prints "ready PID FD" and answers each connection with its pid.
import os
import socket
import sys

path = sys.argv[1]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
ln = socket.socket(socket.AF_UNIX)
ln.bind(path)
ln.listen(16)
print("ready", os.getpid(), ln.fileno(), flush=True)
while True:
    conn, _ = ln.accept()
    conn.sendall(b"%d\n" % os.getpid())
    conn.close()
