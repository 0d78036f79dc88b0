package cpython

import (
	"encoding/binary"
	"fmt"

	"github.com/giltrace/giltrace/tracer"
)

// How a drop_gil hit's Python stack is read:
//
//  1. The probe fetches the innermost ExactFrames frames itself, at the
//     hit (exact: the thread is stopped in drop_gil); with
//     Options.StackWindow on 3.11+ also 1 KiB of the data stack below the
//     innermost frame, where its callers are pushed: those found there are
//     exact too.
//  2. As soon as the hit is read from the ring buffer (prefetch), the
//     frames below those are read from the process's memory, following
//     the "previous" links from the address the probe fetched. The thread
//     has moved on by then (typically by less than a millisecond): a
//     thread that released the GIL is blocked in its call or waiting for
//     the GIL again, so its callers are usually unchanged; a frame that
//     changed meanwhile makes the bottom of the stack wrong, never the top.
//  3. Code objects are cached by address, checked at each use against the
//     identity of the object there (codeHeader). Frames are not cached: a
//     frame at the same address with the same bytes may be another call
//     (3.9 and 3.10 reuse frame objects; 3.11+ reuse the data stack), so
//     each hit reads its chain, one read per frame.
//
// Each nested dereference of a fetch argument costs a user-memory read in
// the probe handler (about 0.4 us on the machine measured in
// docs/cpython.md, and frame k needs k+3 of them), so fetching every frame
// in the probe would cost the traced program several microseconds per
// release of the GIL.

// prefetch completes the stack of a drop_gil hit as soon as it is read
// (steps 2 and 3 above) and reads the code objects of its frames: a
// process that exits before the hit is handled can no longer be read.
func (m *machine) prefetch(e *rawEvent) {
	m.unalias(e)
	if ra := saveSite(e); ra != 0 && e.tgid > 0 {
		// The blocking call's site, classified while the process still
		// maps it: one that exits before its events are handled (the
		// reader behind it) has no map to read then (QA: a spawned pool
		// worker's time.sleep was a blocking call of unknown kind, read
		// 300 ms late behind the start-up of its imports). Once per
		// site: one that no map covers would be looked for at each hit.
		if p := m.proc(e.tgid); !p.prefetched[ra] {
			if p.prefetched == nil {
				p.prefetched = map[uint64]bool{}
			}
			p.prefetched[ra] = true
			m.blocking(p, ra)
		}
	}
	if e.event == evSave || e.event == evDetach {
		return
	}
	if e.event == evTakeGIL && e.tgid > 0 {
		// A thread's name is read at its acquires too: a short thread that
		// never lets the GIL go before its end has no frame and (3.12) no
		// thread state at its one release; read now, a little after its
		// first acquire, it is most often running its target.
		m.readName(m.proc(e.tgid), e.tid, e.val("ts"))
		return
	}
	if e.event != evDropGIL || e.tgid <= 0 {
		return
	}
	p := m.proc(e.tgid)
	var words [][]uint64
	for k := range m.fa.frames {
		if !fetchedFrames(e) {
			break // the thread has no frame: what f0 holds is stale
		}
		name := fmt.Sprintf("f%d", k)
		for _, a := range e.args {
			if a.name == name {
				words = append(words, a.vals)
			}
		}
	}
	raw, next := decodeFrames(m.in.layout, m.fa, words)
	if next != 0 {
		raw = append(raw, m.chain(p, m.window(e), next, m.maxDepth+1-len(raw))...)
	}
	codes := make([]*code, len(raw))
	for i, f := range raw {
		if m.in.layout.shimFrame(f.owner) {
			continue // a shim frame, no Python function: resolve skips it
		}
		if codes[i] = m.checkedCode(p, f.code); codes[i] == nil && i > 0 && m.mem.memory(p.pid).f != nil {
			// No code object there, in a process still readable: the
			// thread moved on and the chain read after the hit changed
			// under the read. Its callers, read through it, are as wrong
			// (QA: 30 "?" callers under an import on 3.12, each a read
			// of a stray address): one unknown caller stands for them.
			// A process gone keeps its frames (review): those fetched
			// at the hit are right, and their codes may be cached.
			raw, codes = raw[:i+1], codes[:i+1]
			break
		}
	}
	e.frames, e.codes, e.resolved = raw, codes, true
	m.readName(p, e.tid, e.val("ts"))
}

// saveSite is the return address of the blocking call that hit e opens,
// as step reads it (a PyEval_SaveThread, an inlined copy or a clone of
// it, a 3.13 detach), or 0.
func saveSite(e *rawEvent) uint64 {
	switch {
	case e.inl != nil && e.inl.site.clone && (e.event == evSave || e.event == evDetach):
		return e.val("ra") // a clone's caller, as at the function's own probe
	case e.inl != nil && (e.event == evSave || e.event == evDropGIL && e.inl.alsoSave):
		return e.val("__probe_ip") // the copy is in the function that blocks
	case e.inl == nil && (e.event == evSave || e.event == evDetach):
		return e.val("ra")
	}
	return 0
}

// fetchedFrames reports whether the frames a drop_gil hit fetched are its
// thread's: its thread state and its innermost frame (fp) are nonzero. A
// fetch through a NULL pointer faults, and the kernel then leaves in its
// place what the previous hit on that CPU fetched (see frameArgs): on
// 3.12, a thread's end (tstate NULL) showed the stack of the thread that
// released the GIL last on that CPU. A hit without fp (a test's) counts.
func fetchedFrames(e *rawEvent) bool {
	if e.has("ts") && e.val("ts") == 0 {
		return false
	}
	return !e.has("fp") || e.val("fp") != 0
}

// stackWindow is memory of the thread's data stack fetched by the probe
// at the hit: bytes from base.
type stackWindow struct {
	base uint64
	data []byte
}

// read returns n bytes at addr if the window holds them.
func (w stackWindow) read(addr uint64, n int) ([]byte, bool) {
	if w.data == nil || addr < w.base || n < 0 {
		return nil, false
	}
	off := addr - w.base
	if off > uint64(len(w.data)) || uint64(n) > uint64(len(w.data))-off {
		return nil, false
	}
	return w.data[off : off+uint64(n)], true
}

// window assembles the data-stack windows of a drop_gil hit (3.11+); a
// window that could not be fetched (all zero: below the stack's chunk)
// ends it.
func (m *machine) window(e *rawEvent) stackWindow {
	fp := e.val("fp")
	if fp == 0 || len(m.fa.windowExprs) == 0 {
		return stackWindow{}
	}
	var data []byte
	for i := len(m.fa.windowExprs) - 1; i >= 0; i-- { // from the top down
		var vals []uint64
		for _, a := range e.args {
			if a.name == fmt.Sprintf("w%d", i) {
				vals = a.vals
			}
		}
		zero := true
		for _, v := range vals {
			zero = zero && v == 0
		}
		if len(vals) != windowWords || zero {
			break
		}
		chunk := make([]byte, 0, windowWords*8)
		for _, v := range vals {
			chunk = binary.LittleEndian.AppendUint64(chunk, v)
		}
		data = append(chunk, data...)
	}
	if fp < uint64(len(data)) {
		return stackWindow{}
	}
	return stackWindow{base: fp - uint64(len(data)), data: data}
}

// chain reads up to n frames from frame address addr of process p: from
// the data-stack window fetched at the hit where it holds them (exact),
// else from the process's memory now.
func (m *machine) chain(p *proc, win stackWindow, addr uint64, n int) []rawFrame {
	l, fa := m.in.layout, m.fa
	mem := m.mem.memory(p.pid)
	var out []rawFrame
	for depth := 0; depth < n && addr != 0; depth++ {
		b, ok := win.read(addr+uint64(fa.lo), fa.words*8)
		if ok {
			m.windowFrames++
		} else {
			b, ok = mem.read(addr+uint64(fa.lo), fa.words*8)
		}
		if !ok {
			break
		}
		w := make([]uint64, fa.words)
		for i := range w {
			w[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		fr, next := decodeFrames(l, fa, [][]uint64{w})
		if len(fr) == 0 {
			break
		}
		out = append(out, fr[0])
		addr = next
	}
	return out
}

// frames resolves the Python stack of a drop_gil hit, innermost first, cut
// at the maximum depth with a "...more frames" frame.
func (m *machine) frames(th *thread, e *rawEvent) []tracer.Frame {
	if !e.resolved {
		m.prefetch(e)
	}
	raw, codes := e.frames, e.codes
	more := len(raw) > m.maxDepth
	if more {
		raw, codes = raw[:m.maxDepth-1], codes[:m.maxDepth-1]
	}
	out := m.resolve(th.p, raw, codes)
	if more {
		out = append(out, moreFrames)
	}
	m.noteStack(th, out)
	return out
}

// noteStack keeps th's stack fs (innermost first), released in or read
// during a hold, for th's fallback name (threadName), and takes th's
// Python name once read.
func (m *machine) noteStack(th *thread, fs []tracer.Frame) {
	if th.name == "" {
		th.name = m.names[th.tid]
	}
	if th.name == "" && len(fs) > 0 && (th.nameFrom == nil || th.nameTries < maxNameStacks && threadTarget(th.nameFrom) == "") {
		// The first stack, or a later one that names the thread's target
		// where the first did not (a thread seen first in its start-up or
		// its teardown: Thread._delete).
		th.nameTries++
		if cand := reverse(fs); th.nameFrom == nil || threadTarget(cand) != "" {
			th.nameFrom = cand
		}
	}
}

// maxNameStacks bounds the stacks a thread's fallback name is looked for
// in: a thread whose stacks never show its target (the main thread)
// stops costing a copy of its stack per release.
const maxNameStacks = 16

func reverse(fs []tracer.Frame) []tracer.Frame {
	out := make([]tracer.Frame, len(fs))
	for i, f := range fs {
		out[len(fs)-1-i] = f
	}
	return out
}

// resolve turns raw frames into named ones with their code objects,
// skipping the shim frames of 3.12+ (layout.shimFrame).
func (m *machine) resolve(p *proc, raw []rawFrame, codes []*code) []tracer.Frame {
	l := m.in.layout
	var out []tracer.Frame
	for i, f := range raw {
		if l.shimFrame(f.owner) {
			continue
		}
		c := codes[i]
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
	mem := m.mem.memory(p.pid)
	if !m.isCode(p.pid, mem, addr) {
		return nil
	}
	c, ok := readCode(mem, m.in.layout, addr)
	if !ok {
		return nil
	}
	p.codes[addr] = c
	return c
}

// isCode reports whether the object at addr in process pid is a code
// object: its type is PyCode_Type. A frame read while the interpreter
// changes it can point at another object, whose "name" and "file" are
// strings of its own: a function "_warnings" in file "hasattr" was shown.
// True when it cannot be told (no PyCode_Type symbol, the interpreter's
// load address unknown, a free-threaded build's other object header).
func (m *machine) isCode(pid int, mem *memory, addr uint64) bool {
	want, ok := m.mem.codeType(pid)
	if !ok {
		return true
	}
	typ, ok := mem.u64(addr + 8) // PyObject: ob_refcnt, then ob_type
	return !ok || typ == want
}

// checkedCode is code, but checks that a cached code object is still the
// one at addr (see codeHeader) and reads it again if not.
func (m *machine) checkedCode(p *proc, addr uint64) *code {
	c, ok := p.codes[addr]
	if !ok {
		return m.code(p, addr)
	}
	if _, id, ok := codeHeader(m.mem.memory(p.pid), m.in.layout, addr); ok && id != c.id {
		delete(p.codes, addr)
		return m.code(p, addr)
	}
	return c
}

// setStack moves th's stack to frames (innermost first) with CallExit and
// CallEnter events just after its last event, which is its acquire of the
// GIL: the hold that ends now ran in those frames.
func (m *machine) setStack(th *thread, frames []tracer.Frame) {
	m.setStackAt(th, frames, th.last+1)
}

// setStackAt is setStack at time at (or just after th's last event).
func (m *machine) setStackAt(th *thread, frames []tracer.Frame, at int64) {
	th.top = tracer.Frame{}
	if len(frames) > 0 {
		th.top = frames[0]
	}
	ids := make([]tracer.FrameID, len(frames))
	for i, f := range frames {
		ids[len(frames)-1-i] = m.rec.AddFrame(f)
		if m.live != nil {
			m.liveSame(int(ids[len(frames)-1-i]), int(m.live.AddFrame(f)))
		}
	}
	common := 0
	for common < len(ids) && common < len(th.frames) && ids[common] == th.frames[common] {
		common++
	}
	t := max(at, th.last+1)
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
	if m.live != nil {
		m.liveSame(int(id), int(m.live.Stack(parent, f)))
	}
	m.stacks[k] = id
	m.stackOf[id] = tracer.Stack{Parent: parent, Frame: f}
	return id
}

func (m *machine) parent(s tracer.StackID) tracer.StackID { return m.stackOf[s].Parent }

// leaf is stack s's innermost frame.
func (m *machine) leaf(s tracer.StackID) tracer.FrameID { return m.stackOf[s].Frame }
