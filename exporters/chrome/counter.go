package chrome

import (
	"strconv"

	"github.com/giltrace/giltrace/tracer"
)

// waitEnd is a GIL wait that has started and not yet ended.
type waitEnd struct {
	end  int64
	proc tracer.ProcID
}

// endHeap is a min-heap of wait ends, by time then process: written out
// rather than through container/heap so that pushing allocates nothing.
type endHeap []waitEnd

func (h endHeap) less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	return h[i].proc < h[j].proc
}

func (h *endHeap) push(x waitEnd) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *endHeap) pop() waitEnd {
	s := *h
	x := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s.less(c+1, c) {
			c++
		}
		if !s.less(c, i) {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return x
}

// waitCounter sweeps the GIL waits in time order and writes, per process,
// a "C" event whenever the number of waiting threads changes: all changes
// at one time are applied before the value is written, so that a thread
// that stops waiting as another starts does not make the counter blink.
type waitCounter struct {
	l       *layout
	o       *out
	now     int64
	waiting []int // per process: threads waiting now
	written []int // per process: the value last written
	dirty   []tracer.ProcID
	isDirty []bool
	ends    endHeap
}

// writeWaitCounter writes the counter of each process with a GIL, from 0
// at time 0.
func (l *layout) writeWaitCounter(o *out) {
	n := len(l.t.Procs)
	c := &waitCounter{l: l, o: o, waiting: make([]int, n), written: make([]int, n), isDirty: make([]bool, n)}
	for p := range l.t.Procs {
		if l.gilTrack[p] != "" {
			// Pending at time 0 with nothing written: the first flush
			// writes the value at 0, merged with any change at 0.
			c.written[p] = -1
			c.isDirty[p] = true
			c.dirty = append(c.dirty, tracer.ProcID(p))
		}
	}
	for _, w := range l.s.Waits {
		p, ok := l.gilProc(w.Lock)
		if !ok || w.End <= w.Start {
			continue
		}
		c.endUntil(w.Start)
		c.change(w.Start, p, +1)
		c.ends.push(waitEnd{w.End, p})
	}
	c.endUntil(1<<63 - 1)
	c.flush()
}

// endUntil applies the ends up to and including time t.
func (c *waitCounter) endUntil(t int64) {
	for len(c.ends) > 0 && c.ends[0].end <= t {
		e := c.ends.pop()
		c.change(e.end, e.proc, -1)
	}
}

// change applies d to process p's count at time t, writing the values of
// an earlier time first.
func (c *waitCounter) change(t int64, p tracer.ProcID, d int) {
	if t != c.now {
		c.flush()
		c.now = t
	}
	c.waiting[p] += d
	if !c.isDirty[p] {
		c.isDirty[p] = true
		c.dirty = append(c.dirty, p)
	}
}

// flush writes the processes whose count changed at the current time.
func (c *waitCounter) flush() {
	for _, p := range c.dirty {
		c.isDirty[p] = false
		if c.waiting[p] != c.written[p] {
			c.write(p, c.now, c.waiting[p])
		}
	}
	c.dirty = c.dirty[:0]
}

func (c *waitCounter) write(p tracer.ProcID, at int64, v int) {
	c.written[p] = v
	o := c.o
	o.begin()
	b := append(o.b, `"ph":"C","name":"GIL",`...)
	b = append(b, c.l.gilTrack[p]...)
	b = append(b, `,"ts":`...)
	b = appendMicros(b, at)
	b = append(b, `,"args":{"waiting":`...)
	b = strconv.AppendInt(b, int64(v), 10)
	o.b = append(b, '}')
	o.end()
}
