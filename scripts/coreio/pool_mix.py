# A thread pool of N workers, each of 64 tasks: a 10 ms sleep, a request to
# srv.py on PORT (5 ms), a 1 MiB cached file read and about 6 ms of Python.
# Usage: python3 srv.py PORT & python3 pool_mix.py N PORT (docs/diagnosis.md,
# "I/O that was CPU").
import concurrent.futures as cf, socket, time, sys, os, threading
N = int(sys.argv[1]); PORT = int(sys.argv[2]); TASKS = int(sys.argv[3]) if len(sys.argv) > 3 else 64
FN = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'giltrace-pool-mix-blob.bin')
if not os.path.exists(FN):
    with open(FN, 'wb') as f: f.write(os.urandom(1 << 20))
local = threading.local()
def conn():
    c = getattr(local, 'c', None)
    if c is None:
        c = local.c = socket.create_connection(('127.0.0.1', PORT))
    return c
def cpu(n):
    s = 0
    for i in range(n): s += i * i
    return s
def task(i):
    time.sleep(0.010)                  # 10 ms sleep
    c = conn(); c.sendall(b'q' * 10)   # 5 ms server latency
    got = 0
    while got < 100: got += len(c.recv(100))
    with open(FN, 'rb') as f: f.read()
    return cpu(100_000)                # ~5 ms CPU
t0 = time.perf_counter()
with cf.ThreadPoolExecutor(N) as ex:
    list(ex.map(task, range(TASKS)))
print(f"workers {N}: {time.perf_counter()-t0:.3f}s", file=sys.stderr)
