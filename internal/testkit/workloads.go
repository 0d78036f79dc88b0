package testkit

// IdlePool is a workload (YAML) of a pool whose four workers wait, idle,
// on one lock until its main thread, computing 500ms, notifies them (a
// ThreadPoolExecutor's queue, asyncio.to_thread's workers): each worker
// takes the lock in turn, so several threads hold it, but to be notified.
// The diagnosis's tests and the report's run it.
const IdlePool = `name: pool
clock: virtual
threads:
  - {name: main, run: m}
  - {name: worker, run: w, count: 4}
functions:
  m:
    - repeat: {times: 8, body: [{compute: 50ms}, {notify: work}]}
    - compute: 100ms
    - repeat: {times: 4, body: [{notify: work}]}
  w:
    - repeat: {times: 3, body: [{wait: {until: notify, lock: work}}, {compute: 2ms}]}
`
