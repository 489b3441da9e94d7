# A socket-activated service: takes its listener from fd 3 (LISTEN_FDS)
# and accepts on it.
import os, socket

assert os.environ["LISTEN_FDS"] == "1" and os.environ["LISTEN_PID"] == str(os.getpid())
ln = socket.socket(fileno=3)
while True:
    c, _ = ln.accept()
    c.close()
