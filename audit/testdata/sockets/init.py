# A container's init that keeps a listener and hands it to a service the
# way systemd does: at fd 3, with LISTEN_FDS=1 and LISTEN_PID set to the
# service's pid as its own pid namespace sees it.
import os, socket, sys

port, service = int(sys.argv[1]), sys.argv[2]
ln = socket.socket()
ln.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ln.bind(("127.0.0.1", port))
ln.listen(16)
ln.set_inheritable(True)  # as a spawner's copy often is
pid = os.fork()
if pid == 0:
    os.dup2(ln.fileno(), 3)
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    os.execve(sys.executable, [sys.executable, service], env)
print("ready", os.getpid(), pid, flush=True)
os.wait()
