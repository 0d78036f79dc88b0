package tracer

// TrackTIDs numbers the timeline exporters' tracks of trace t, so that the
// Chrome JSON trace and the Perfetto trace of a run give each thread the
// same tid (QA: a Perfetto query by thread.tid picked another thread
// depending on which file was loaded): per process in trace order, its GIL
// track (gil[p], 0 for a process without a GIL), then its threads in trace
// order (threads[i]). Numbers start after the largest pid, so that no tid
// is also a pid (Perfetto would make that thread its process's main
// thread). These are made-up numbers, not the threads' Linux TIDs. A
// thread of no valid process gets 0.
func TrackTIDs(t *Trace) (threads, gil []int) {
	threads, gil = make([]int, len(t.Threads)), make([]int, len(t.Procs))
	byProc := make([][]int, len(t.Procs))
	for i, th := range t.Threads {
		if int(th.Proc) < len(t.Procs) {
			byProc[th.Proc] = append(byProc[th.Proc], i)
		}
	}
	tid := 1
	for _, p := range t.Procs {
		tid = max(tid, p.PID+1)
	}
	for p, pr := range t.Procs {
		if pr.GIL != NoLock && int(pr.GIL) < len(t.Locks) {
			gil[p] = tid
			tid++
		}
		for _, i := range byProc[p] {
			threads[i] = tid
			tid++
		}
	}
	return threads, gil
}
