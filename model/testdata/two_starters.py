# Two threads each start 15 short workers in a loop at the same time; each
# worker's name says who started it.
import threading, time, sys
def burn(sec):
    t = time.thread_time()
    while time.thread_time() - t < sec: pass
def child(): burn(0.004)
def starter(tag):
    ws = [threading.Thread(target=child, name=f"{tag}{i}") for i in range(15)]
    for w in ws: w.start()
    for w in ws: w.join()
ss = [threading.Thread(target=starter, args=(tag,), name=f"S{tag}") for tag in "AB"]
for s in ss: s.start()
for s in ss: s.join()
