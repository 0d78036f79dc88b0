package cpython

import (
	"fmt"

	"github.com/giltrace/giltrace/tracer"
)

// frames resolves the Python stack of a drop_gil hit, innermost first:
// the frames the probe fetched (exact, read at the hit), then, if the
// stack is deeper, frames read from the process's memory now (the thread
// has moved on; they are cached per thread by the address of the first
// of them, so a stack whose top part changed reuses its bottom part).
func (m *machine) frames(th *thread, e *rawEvent) []tracer.Frame {
	var words [][]uint64
	for k := range m.fa.frames {
		name := fmt.Sprintf("f%d", k)
		for _, a := range e.args {
			if a.name == name {
				words = append(words, a.vals)
			}
		}
	}
	raw, next := decodeFrames(m.in.layout, m.fa, words)
	out := m.resolve(th.p, raw, nil)
	if next != 0 && len(out) <= m.maxDepth {
		if next != th.tailKey {
			mem := m.mem.memory(th.p.pid)
			deeper, more := readFrames(mem, m.in.layout, m.fa, next, m.maxDepth+1-len(out))
			th.tail = m.resolve(th.p, deeper, nil)
			if more != 0 {
				th.tail = append(th.tail, moreFrames)
			}
			th.tailKey = next
		}
		out = append(out, th.tail...)
	}
	if len(out) > m.maxDepth {
		out = append(out[:m.maxDepth-1], moreFrames)
	}
	if th.name == "" && th.nameFrom == nil && len(out) > 0 {
		th.nameFrom = reverse(out)
	}
	return out
}

func reverse(fs []tracer.Frame) []tracer.Frame {
	out := make([]tracer.Frame, len(fs))
	for i, f := range fs {
		out[len(fs)-1-i] = f
	}
	return out
}

// resolve turns raw frames into named ones, skipping the shim frames of
// 3.12+.
func (m *machine) resolve(p *proc, raw []rawFrame, out []tracer.Frame) []tracer.Frame {
	l := m.in.layout
	for _, f := range raw {
		if l.minor >= 12 && f.owner == frameOwnedByCStack {
			continue
		}
		c, ok := p.codes[f.code]
		if !ok {
			c, ok = readCode(m.mem.memory(p.pid), l, f.code)
			if !ok {
				c = &code{name: "?", file: "?"}
			}
			p.codes[f.code] = c
		}
		out = append(out, tracer.Frame{Func: c.name, File: c.file, Line: c.line(l, f)})
	}
	return out
}

// setStack moves th's stack to frames (innermost first) with CallExit and
// CallEnter events just after its last event, which is its acquire of the
// GIL: the hold that ends now ran in those frames.
func (m *machine) setStack(th *thread, frames []tracer.Frame) {
	th.top = tracer.Frame{}
	if len(frames) > 0 {
		th.top = frames[0]
	}
	ids := make([]tracer.FrameID, len(frames))
	for i, f := range frames {
		ids[len(frames)-1-i] = m.rec.AddFrame(f)
	}
	common := 0
	for common < len(ids) && common < len(th.frames) && ids[common] == th.frames[common] {
		common++
	}
	t := th.last + 1
	for len(th.frames) > common {
		m.emitStack(th, t, tracer.KindCallExit, th.stack, 0)
		th.stack = m.parent(th.stack)
		th.frames = th.frames[:len(th.frames)-1]
	}
	for _, id := range ids[common:] {
		th.stack = m.push(th.stack, id)
		th.frames = append(th.frames, id)
		m.emitStack(th, t, tracer.KindCallEnter, th.stack, 0)
	}
}

type stackNode struct {
	parent tracer.StackID
	frame  tracer.FrameID
}

func (m *machine) push(parent tracer.StackID, f tracer.FrameID) tracer.StackID {
	k := [2]uint32{uint32(parent), uint32(f)}
	if id, ok := m.stacks[k]; ok {
		return id
	}
	id := m.rec.Stack(parent, f)
	m.stacks[k] = id
	m.parents[id] = parent
	return id
}

func (m *machine) parent(s tracer.StackID) tracer.StackID { return m.parents[s] }
