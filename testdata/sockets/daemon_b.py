# Daemon B: serves a port of its own (blocked in accept on it), and knows
# nothing of the descriptors it inherited.
import os
import socket
import sys

ln = socket.socket()
ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ln.bind(("127.0.0.1", int(sys.argv[1])))
ln.listen(16)
with open(os.environ["DAEMON_B_PIDFILE"], "w") as f:
    f.write("%d\n" % os.getpid())
while True:
    conn, _ = ln.accept()
    conn.sendall(b"b\n")
    conn.close()
