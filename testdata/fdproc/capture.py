#!/usr/bin/env python3
"""Builds the scene testdata/fdproc/tree was copied from, and records what
iproute2's ss, util-linux lsfd and prlimit, and procps ps said about it at
the same moment (the oracle/ files the fixture tests hold fdscan against).

Run as root, in fresh network, mount, pid and cgroup namespaces so that only the
scene is in them and every address is loopback:

    gcc -O2 -o /tmp/fdholder testdata/fdholder/fdholder.c
    unshare -n -m -p -C --fork --mount-proc env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        python3 testdata/fdproc/capture.py /tmp/fdholder /tmp/fdproc-new

The scene: the three incidents (an inherited listener held by fdholder, sh
and sleep; a dead FastCGI-style listener held as fd 0 by sleep with two
connections pending; three CLOSE_WAIT connections hoarded by a server
whose open-files limit is 777), a systemd-style activated process whose
name contains ") (", a second network namespace, and this script (pid 1)
holding udp, unix dgram, socketpair and a unix listener whose path has a
newline.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

fdholder, out = sys.argv[1], sys.argv[2]
assert os.getpid() == 1, "run in a fresh pid namespace (unshare -p --fork --mount-proc)"
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
run = "/tmp/fdproc run"
os.makedirs(run, exist_ok=True)
procs = []


def start(argv, stdin=subprocess.PIPE, **kw):
    p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, **kw)
    procs.append(p)
    return p


def words(p):
    return p.stdout.readline().decode().split()


def children(ppid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[1]) == ppid:
                kids.append(int(d))
    return kids


def wait_for(cond):
    for _ in range(100):
        if cond():
            return
        time.sleep(0.05)
    sys.exit("scene did not settle")


# 1. Inherited listener: fdholder -> sh -> sleep, all holding fd 3.
a = start([fdholder, "inherit", "127.0.0.1", "5555", "sleep 600 & echo child $!; wait"])
words(a)
words(a)

# 2. CLOSE_WAIT: three clients connect and close; the server never closes.
h = start(["prlimit", "--nofile=777:4096", fdholder, "hoard", "127.0.0.1", "6000"])
words(h)
for _ in range(3):
    socket.create_connection(("127.0.0.1", 6000)).close()
for _ in range(3):
    words(h)

# 3. Dead listener: a unix listener as fd 0 of a program that system()s
# sleep; the program is killed, sleep keeps it, two clients connect.
path = run + "/app sock"
if os.path.exists(path):
    os.unlink(path)
ul = socket.socket(socket.AF_UNIX)
ul.bind(path)
ul.listen(8)
f = start([fdholder, "system", "sleep 600"], stdin=ul.fileno())
words(f)
wait_for(lambda: children(f.pid))
f.kill()
f.wait()
ul.close()
pending = [socket.socket(socket.AF_UNIX) for _ in range(2)]
for c in pending:
    c.connect(path)

# 4. Socket activation: a tcp6 listener at fd 3 with LISTEN_FDS and
# LISTEN_PID naming the process, whose name has ") (" in it.
weird = run + "/a) (b c"
shutil.copy("/usr/bin/sleep", weird)
l6 = socket.socket(socket.AF_INET6)
l6.bind(("::1", 8080))
l6.listen(32)
act = start(["sh", "-c", f'export LISTEN_PID=$$ LISTEN_FDS=1; exec "{weird}" 600'],
            preexec_fn=lambda: os.dup2(l6.fileno(), 3), pass_fds=(3,))
l6.close()
wait_for(lambda: open(f"/proc/{act.pid}/comm").read().startswith("a) (b c"))

# 5. A second network namespace with a listener of its own.
o = start(["unshare", "-n", "sh", "-c", f"ip link set lo up; exec {fdholder} hoard 127.0.0.1 7000"])
words(o)

# 6. What this script holds itself.
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u4.bind(("127.0.0.1", 5353))
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind("\0fdproc\0dgram")
pair = socket.socketpair()
nl = socket.socket(socket.AF_UNIX)
nlpath = run + "/new\nline"
if os.path.exists(nlpath):
    os.unlink(nlpath)
nl.bind(nlpath)
nl.listen(4)
time.sleep(0.2)

# The oracles, then the tree.
os.makedirs(out + "/oracle", exist_ok=True)


def save(name, argv):
    with open(out + "/oracle/" + name, "wb") as w:
        w.write(subprocess.run(argv, capture_output=True, check=True).stdout)


save("ss-tanpe.txt", ["ss", "-tanpe"])
save("ss-uanpe.txt", ["ss", "-uanpe"])
save("ss-xanp.txt", ["ss", "-xanp"])
save("ss-tanpe-other.txt", ["nsenter", "-t", str(o.pid), "-n", "ss", "-tanpe"])
save("lsfd.json", ["lsfd", "-J", "-o", "PID,FD,FLAGS,INODE,TYPE", "-Q", 'TYPE == "SOCK"'])
save("ps.txt", ["ps", "-eo", "pid=,ppid=,comm="])
save("ps-args.txt", ["ps", "-eo", "pid=,args="])
pids = sorted(int(d) for d in os.listdir("/proc") if d.isdigit())
with open(out + "/oracle/prlimit.txt", "w") as w:
    for pid in pids:
        soft = subprocess.run(["prlimit", "--pid", str(pid), "--nofile", "--raw", "--noheadings", "-o", "SOFT"],
                              capture_output=True, text=True).stdout.strip()
        if soft:
            w.write(f"{pid} {soft}\n")

tree = out + "/tree"
first_in_ns = {}
for pid in pids:
    if not os.path.exists(f"/proc/{pid}"):
        continue
    src, dst = f"/proc/{pid}", f"{tree}/{pid}"
    os.makedirs(dst + "/ns")
    for name in ["stat", "cmdline", "comm", "cgroup", "limits", "environ"]:
        with open(f"{src}/{name}", "rb") as r, open(f"{dst}/{name}", "wb") as w:
            w.write(r.read())
    for name in ["exe", "ns/net"]:
        os.symlink(os.readlink(f"{src}/{name}"), f"{dst}/{name}")
    os.makedirs(dst + "/fd")
    os.makedirs(dst + "/fdinfo")
    for fd in os.listdir(f"{src}/fd"):
        try:
            target = os.readlink(f"{src}/fd/{fd}")
            with open(f"{src}/fdinfo/{fd}", "rb") as r:
                info = r.read()
        except FileNotFoundError:
            continue  # the listdir's own descriptor
        os.symlink(target, f"{dst}/fd/{fd}")
        with open(f"{dst}/fdinfo/{fd}", "wb") as w:
            w.write(info)
    ns = os.readlink(f"{src}/ns/net")
    if ns not in first_in_ns:
        first_in_ns[ns] = pid
        os.makedirs(dst + "/net")
        for t in ["tcp", "tcp6", "udp", "udp6", "unix"]:
            with open(f"{src}/net/{t}", "rb") as r, open(f"{dst}/net/{t}", "wb") as w:
                w.write(r.read())
os.symlink("1", tree + "/self")
# A process that exits between the listing and the reading.
os.makedirs(tree + "/99999")
with open(tree + "/99999/comm", "w") as w:
    w.write("gone\n")

for p in procs:
    p.kill()
