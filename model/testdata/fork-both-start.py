import os, sys, threading, time
def work(n):
    while n: n -= 1
def two():
    ts=[threading.Thread(target=work, args=(1_500_000,), name=f"w{i}") for i in range(2)]
    [t.start() for t in ts]; [t.join() for t in ts]
pid = os.fork()
if pid == 0:
    threading.current_thread().name = "child-main"
    two(); print("child done", os.getpid(), flush=True); os._exit(7)
two()
_, st = os.waitpid(pid, 0)
print("parent done; child status", os.waitstatus_to_exitcode(st), flush=True)
sys.exit(5)
