#!/usr/bin/env python3
"""The scene testdata/fdproc/parse/net was captured from: run as root in a
fresh network namespace with lo up (unshare -n sh -c "ip link set lo up;
python3 capture.py OUTDIR"). It saves /proc/net/{tcp,tcp6,udp,udp6,unix},
what ss -tane, -uane and -xae said at the same moment, and fdinfo of
sockets with and without close-on-exec and of an eventfd."""
import socket, os, time, sys, subprocess
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
# TCP v4 listener with 3 pending connections
l4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l4.bind(("127.0.0.1", 5555)); l4.listen(16)
pend = [socket.create_connection(("127.0.0.1", 5555)) for _ in range(3)]
# established pair and a CLOSE_WAIT
l2 = socket.socket(); l2.bind(("127.0.0.1", 6000)); l2.listen(4)
c = socket.create_connection(("127.0.0.1", 6000)); s, _ = l2.accept()
c2 = socket.create_connection(("127.0.0.1", 6000)); s2, _ = l2.accept(); c2.close()
c.send(b"hello")  # 5 bytes unread in s's receive queue
# TCP v6
l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); l6.bind(("::1", 8080)); l6.listen(128)
c6 = socket.create_connection(("::1", 8080)); s6, _ = l6.accept()
# v4-mapped via dual-stack wildcard
w6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); w6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); w6.bind(("::", 9090)); w6.listen(5)
m = socket.create_connection(("127.0.0.1", 9090)); ms, _ = w6.accept()
# UDP
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4.bind(("127.0.0.1", 5353))
u4c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4c.connect(("127.0.0.1", 5353))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::1", 5354))
# unix
d = "/tmp/cap/run dir"; os.makedirs(d, exist_ok=True)
p = d + "/app sock"
try: os.unlink(p)
except FileNotFoundError: pass
ul = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ul.bind(p); ul.listen(8)
uc = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
for x in uc: x.connect(p)
ab = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); ab.bind("\0ipckeys-test\0x"); ab.listen(3)
sp = socket.socketpair()
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); dg.bind("\0dgram")
sq = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); sq.bind(d + "/seq"); sq.listen(2)
nl = socket.socket(socket.AF_UNIX); nl.bind(d + "/new\nline"); nl.listen(1)
ev = os.eventfd(7) if hasattr(os, "eventfd") else None
time.sleep(0.3)
for f in ["tcp", "tcp6", "udp", "udp6", "unix"]:
    open(out + "/" + f, "wb").write(open("/proc/net/" + f, "rb").read())
for name, args in [("ss-tane", ["ss", "-tane"]), ("ss-xae", ["ss", "-xae"]), ("ss-uane", ["ss","-uane"])]:
    open(out + "/" + name + ".txt", "wb").write(subprocess.run(args, capture_output=True).stdout)
# fdinfo: one without cloexec, one with
nc = socket.socket(); os.set_inheritable(nc.fileno(), True)
open(out + "/fdinfo-socket-nocloexec", "wb").write(open("/proc/self/fdinfo/%d" % nc.fileno(), "rb").read())
open(out + "/fdinfo-socket-cloexec", "wb").write(open("/proc/self/fdinfo/%d" % l4.fileno(), "rb").read())

open(out + "/fdinfo-eventfd", "wb").write(open("/proc/self/fdinfo/%d" % ev, "rb").read())
