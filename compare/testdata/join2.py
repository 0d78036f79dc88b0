import multiprocessing as mp

def work(n):
    while n > 0:
        n -= 1

if __name__ == "__main__":
    ps = [mp.Process(target=work, args=(25_000_000,)) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
