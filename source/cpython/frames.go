package cpython

import (
	"encoding/binary"
	"fmt"

	"github.com/giltrace/giltrace/tracer"
)

// How a drop_gil hit's Python stack is read:
//
//  1. The probe fetches the innermost ExactFrames frames itself, at the
//     hit (exact: the thread is stopped in drop_gil).
//  2. As soon as the hit is read from the ring buffer (prefetch), the
//     frames below those are read from the process's memory, following
//     the "previous" links from the address the probe fetched. The thread
//     has moved on by then (typically by less than a millisecond): a
//     thread that released the GIL is blocked in its call or waiting for
//     the GIL again, so its callers are usually unchanged; a frame that
//     changed meanwhile makes the bottom of the stack wrong, never the top.
//  3. Each thread's last chain is cached: reading stops at the first frame
//     identical (address, code, instruction, link) to the cached one at the
//     same depth, and the cached rest is reused, so a hit costs one or two
//     reads of the process's memory.
//
// Each nested dereference of a fetch argument costs a user-memory read in
// the probe handler (about 0.4 us on the machine measured in
// docs/cpython.md, and frame k needs k+3 of them), so fetching every frame
// in the probe would cost the traced program several microseconds per
// release of the GIL.

// chainEntry is a frame of a thread's cached chain.
type chainEntry struct {
	addr  uint64
	words [8]uint64 // the frame's fetched words (at most 8 are used)
	frame rawFrame
	next  uint64
}

// prefetch completes the stack of a drop_gil hit as soon as it is read
// (steps 2 and 3 above) and reads the code objects of its frames: a
// process that exits before the hit is handled can no longer be read.
func (m *machine) prefetch(e *rawEvent) {
	if e.event != evDropGIL || e.tgid <= 0 {
		return
	}
	p := m.proc(e.tgid)
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
	if next != 0 {
		raw = append(raw, m.chain(p, e.tid, next, m.maxDepth+1-len(raw))...)
	}
	e.frames, e.resolved = raw, true
	for _, f := range raw {
		m.code(p, f.code)
	}
	m.readName(p, e.tid, e.val("ts"))
}

// chain reads up to n frames from address addr of thread tid, reusing the
// thread's cached chain from the first unchanged frame.
func (m *machine) chain(p *proc, tid int, addr uint64, n int) []rawFrame {
	l, fa := m.in.layout, m.fa
	old := m.chains[tid]
	mem := m.mem.memory(p.pid)
	var out []rawFrame
	var fresh []chainEntry
	for depth := 0; depth < n && addr != 0; depth++ {
		b, ok := mem.read(addr+uint64(fa.lo), fa.words*8)
		if !ok || fa.words > 8 {
			break
		}
		var ce chainEntry
		ce.addr = addr
		for i := 0; i < fa.words; i++ {
			ce.words[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		// Is this frame the one cached at some depth? Then the rest is too.
		for j := range old {
			if old[j].addr == addr && old[j].words == ce.words {
				for _, o := range old[j:] {
					if depth >= n {
						break
					}
					out = append(out, o.frame)
					fresh = append(fresh, o)
					depth++
				}
				m.chains[tid] = fresh
				return out
			}
		}
		fr, next := decodeFrames(l, fa, [][]uint64{ce.words[:fa.words]})
		if len(fr) == 0 {
			break
		}
		ce.frame, ce.next = fr[0], next
		out = append(out, ce.frame)
		fresh = append(fresh, ce)
		addr = next
	}
	m.chains[tid] = fresh
	return out
}

// frames resolves the Python stack of a drop_gil hit, innermost first, cut
// at the maximum depth with a "...more frames" frame.
func (m *machine) frames(th *thread, e *rawEvent) []tracer.Frame {
	if !e.resolved {
		m.prefetch(e)
	}
	raw := e.frames
	more := len(raw) > m.maxDepth
	if more {
		raw = raw[:m.maxDepth-1]
	}
	out := m.resolve(th.p, raw, nil)
	if more {
		out = append(out, moreFrames)
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
		c := m.code(p, f.code)
		if c == nil {
			out = append(out, unknownFrame)
			continue
		}
		out = append(out, tracer.Frame{Func: c.name, File: c.file, Line: c.line(l, f)})
	}
	return out
}

// unknownFrame stands for a frame whose code object could not be read
// (the process exited before the recorder got to its event).
var unknownFrame = tracer.Frame{Func: "?", File: "?"}

// code returns code object addr of process p, read once and cached; nil if
// it cannot be read (not cached: a later read may succeed).
func (m *machine) code(p *proc, addr uint64) *code {
	if c, ok := p.codes[addr]; ok {
		return c
	}
	c, ok := readCode(m.mem.memory(p.pid), m.in.layout, addr)
	if !ok {
		return nil
	}
	p.codes[addr] = c
	return c
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
