# `npm run bench -- restart`: plays systemd's part for a socket-activated warden. Binds and listens on
# 127.0.0.1:PORT (and never accepts), starts the command after "--" with the socket as descriptor 3
# (the command is given `--fd 3`), and on SIGHUP restarts it the way `systemctl restart` does with a
# .socket unit: SIGTERM the running one, wait for it to exit, start a new one on the same socket.
# Prints "holder: started PID" for each start. SIGTERM: stop the command, then exit.
import os, signal, socket, subprocess, sys

port, backlog = int(sys.argv[1]), int(sys.argv[2])
command = sys.argv[sys.argv.index("--") + 1:]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(backlog)
os.dup2(listener.fileno(), 3)
os.set_inheritable(3, True)

child = None
restart = False
stop = False

def start():
    global child
    child = subprocess.Popen(command, pass_fds=(3,))
    print(f"holder: started {child.pid}", flush=True)

def on_hup(_signum, _frame):
    global restart
    restart = True
    if child is not None and child.poll() is None:
        child.send_signal(signal.SIGTERM)

def on_term(_signum, _frame):
    global stop
    stop = True
    if child is not None and child.poll() is None:
        child.send_signal(signal.SIGTERM)

signal.signal(signal.SIGHUP, on_hup)
signal.signal(signal.SIGTERM, on_term)
start()
while True:
    try:
        code = child.wait()
    except InterruptedError:
        continue
    if stop:
        sys.exit(0)
    if restart:
        restart = False
        print(f"holder: {child.pid} exited with {code}", flush=True)
        start()
        continue
    print(f"holder: {child.pid} exited with {code} on its own", flush=True)
    sys.exit(1)
