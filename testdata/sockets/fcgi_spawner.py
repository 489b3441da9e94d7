# A spawn-fcgi-style spawner: listens on 127.0.0.1:PORT, starts WORKER
# with the listener as fd 0, prints "ready SPAWNER WORKER" and waits for
# it (blocked in wait4, never accepting itself).
import os
import socket
import sys

port, worker = int(sys.argv[1]), sys.argv[2]
ln = socket.socket()
ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ln.bind(("127.0.0.1", port))
ln.listen(16)
pid = os.fork()
if pid == 0:
    os.dup2(ln.fileno(), 0)
    os.execv(sys.executable, [sys.executable, worker])
print("ready", os.getpid(), pid, flush=True)
os.waitpid(pid, 0)
