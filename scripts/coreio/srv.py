# external server process: per connection thread, reply after 5ms
import socket, threading, time, sys
def handle(c):
    with c:
        while True:
            d = c.recv(100)
            if not d: return
            time.sleep(0.005)
            c.sendall(b'x' * 100)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
