# Daemon A of the inherited-listener incident: listens on 127.0.0.1:PORT
# without close-on-exec (as C daemons do), starts daemon B with system()
# without closing it, prints "ready PID FD" and serves its port.
import os
import socket
import sys

port, b, bport = sys.argv[1], sys.argv[2], sys.argv[3]
ln = socket.socket()
ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ln.bind(("127.0.0.1", int(port)))
ln.listen(16)
ln.set_inheritable(True)
os.system(sys.executable + " " + b + " " + bport + " &")
print("ready", os.getpid(), ln.fileno(), flush=True)
while True:
    conn, _ = ln.accept()
    conn.sendall(b"a\n")
    conn.close()
