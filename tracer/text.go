package tracer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The text form of a trace is for small fixtures and golden files: one line
// per metadata field, table row and event, with names resolved. Example:
//
//	giltrace-text 1
//	meta workload "countdown"
//	...
//	process 0 "python" pid=1 gil=0
//	lock 0 "GIL" proc=0 gil
//	thread 0 "T1" proc=0
//	frame 0 "count" "test.yaml" 3
//	stack 1 parent=0 frame=0 # count
//	0 T1 thread-start
//	10 T1 lock-acquire GIL uncontended
//	20 T1 call-enter @1 # count
//
// An event line is: time (ns), thread, kind, the kind's arguments, then
// @stack if the stack differs from the thread's previous event's. A thread,
// lock or string is written by name when the name is a simple word (a
// letter then letters, digits or _-.:/<>) unique in its table, quoted when
// it is unique but not simple, and by its ID (digits) otherwise; "GIL" is
// the GIL of the event's thread's process. An argument that does not fit
// the kind's form is written arg=N. "#" starts a comment (outside quotes).
// Zero metadata fields and a zero dropped count are left out.

const textHeader = "giltrace-text 1"

// WriteText writes t in the text form. Like Write, it fails for events with
// a thread not in the table.
func WriteText(w io.Writer, t *Trace) error {
	tw := &textWriter{w: bufio.NewWriter(w), t: t, names: newTextNames(t)}
	tw.header()
	stacks := make([]StackID, len(t.Threads))
	for i := range t.Events {
		e := &t.Events[i]
		if int(e.Thread) >= len(t.Threads) {
			return fmt.Errorf("writing trace text: event %d: thread %d not in the table of %d threads", i, e.Thread, len(t.Threads))
		}
		tw.event(e, e.Stack != stacks[e.Thread])
		stacks[e.Thread] = e.Stack
	}
	if err := tw.w.Flush(); err != nil {
		return fmt.Errorf("writing trace text: %w", err)
	}
	return nil
}

type textWriter struct {
	w     *bufio.Writer
	t     *Trace
	names textNames
}

func (tw *textWriter) line(format string, args ...any) {
	fmt.Fprintf(tw.w, format, args...)
	tw.w.WriteByte('\n')
}

func (tw *textWriter) header() {
	t, m := tw.t, &tw.t.Meta
	tw.line("%s", textHeader)
	str := func(key, v string) {
		if v != "" {
			tw.line("meta %s %q", key, v)
		}
	}
	num := func(key string, v int64) {
		if v != 0 {
			tw.line("meta %s %d", key, v)
		}
	}
	str("workload", m.Workload)
	str("workload-file", m.WorkloadFile)
	str("workload-source", m.WorkloadSource)
	str("gil-mode", string(m.GILMode))
	if m.SwitchInterval != 0 {
		tw.line("meta switch-interval %d # %v", int64(m.SwitchInterval), m.SwitchInterval)
	}
	num("check-interval", int64(m.CheckInterval))
	num("cores", int64(m.Cores))
	num("gomaxprocs", int64(m.GOMAXPROCS))
	if m.LoopsPerMS != 0 || math.Signbit(m.LoopsPerMS) {
		tw.line("meta loops-per-ms %s", strconv.FormatFloat(m.LoopsPerMS, 'g', -1, 64))
	}
	if !m.Start.IsZero() {
		tw.line("meta start %d %d # %s", m.Start.Unix(), m.Start.Nanosecond(), m.Start.UTC().Format(time.RFC3339Nano))
	}
	str("version", m.Version)
	for _, k := range sortedKeys(m.Extra) {
		tw.line("meta extra %q %q", k, m.Extra[k])
	}
	if t.Dropped != 0 {
		tw.line("dropped %d", t.Dropped)
	}
	if t.Truncated {
		tw.line("truncated")
	}
	for i, s := range t.Strings {
		tw.line("string %d %q", i, s)
	}
	for i, p := range t.Procs {
		gil := "none"
		if p.GIL != NoLock {
			gil = strconv.FormatUint(uint64(p.GIL), 10)
		}
		tw.line("process %d %q pid=%d gil=%s", i, p.Name, p.PID, gil)
	}
	for i, l := range t.Locks {
		gil := ""
		if l.GIL {
			gil = " gil"
		}
		tw.line("lock %d %q proc=%d%s", i, l.Name, l.Proc, gil)
	}
	for i, th := range t.Threads {
		tw.line("thread %d %q proc=%d", i, th.Name, th.Proc)
	}
	for i, f := range t.Frames {
		tw.line("frame %d %q %q %d", i, f.Func, f.File, f.Line)
	}
	for i, s := range t.Stacks {
		if i > 0 {
			tw.line("stack %d parent=%d frame=%d # %s", i, s.Parent, s.Frame, tw.stackComment(StackID(i)))
		}
	}
}

// stackComment names the functions of stack s, outermost first. It stops
// at a reference out of range or a cycle (the trace need not be valid).
func (tw *textWriter) stackComment(s StackID) string {
	t := tw.t
	var names []string
	for s != NoStack && int(s) < len(t.Stacks) && len(names) <= len(t.Stacks) {
		st := t.Stacks[s]
		if int(st.Frame) >= len(t.Frames) {
			names = append(names, "?")
			break
		}
		names = append(names, t.Frames[st.Frame].Func)
		s = st.Parent
	}
	slices.Reverse(names)
	return strings.Join(names, " > ")
}

func (tw *textWriter) event(e *Event, newStack bool) {
	n := &tw.names
	b := strconv.AppendInt(nil, e.Time, 10)
	b = append(b, ' ')
	b = append(b, n.threads.name(uint64(e.Thread))...)
	b = append(b, ' ')
	b = append(b, e.Kind.String()...)
	if args, ok := tw.args(e); ok {
		b = append(b, args...)
	} else {
		b = fmt.Appendf(b, " arg=%d", e.Arg)
	}
	if newStack {
		b = fmt.Appendf(b, " @%d", e.Stack)
		if e.Kind == KindCallEnter {
			b = append(b, " # "...)
			b = append(b, tw.stackComment(e.Stack)...)
		}
	}
	tw.w.Write(b)
	tw.w.WriteByte('\n')
}

// args formats e's argument in its kind's form, or reports that it does
// not fit.
func (tw *textWriter) args(e *Event) (string, bool) {
	n := &tw.names
	switch e.Kind {
	case KindLockWait:
		if e.Arg>>32 != 0 {
			return "", false
		}
		return " " + n.lock(e.Lock(), e.Thread, tw.t), true
	case KindLockAcquire:
		if e.Arg>>40 != 0 || e.Acquire() >= numAcquires {
			return "", false
		}
		return " " + n.lock(e.Lock(), e.Thread, tw.t) + " " + e.Acquire().String(), true
	case KindLockRelease:
		if e.Arg>>40 != 0 || e.Release() >= numReleases {
			return "", false
		}
		return " " + n.lock(e.Lock(), e.Thread, tw.t) + " " + e.Release().String(), true
	case KindDropRequest:
		return " " + n.lock(e.Lock(), e.Thread, tw.t) + " " + n.threads.name(uint64(e.Peer())), true
	case KindIOBegin:
		return " " + n.strings.name(e.Arg), true
	case KindNativeBegin:
		switch e.Arg {
		case 0:
			return " keeps-gil", true
		case 1:
			return " releases-gil", true
		}
		return "", false
	case KindThreadStart:
		switch e.Arg {
		case 0:
			return "", true
		case ThreadExisted:
			return " existed", true
		}
		return "", false
	}
	return "", e.Arg == 0
}

// textNames resolves names to IDs and back for one table.
type textNames struct {
	threads, locks, strings nameTable
}

type nameTable struct {
	names []string
	ids   map[string]uint64 // unique names only
}

func newNameTable(names []string) nameTable {
	nt := nameTable{names: names, ids: make(map[string]uint64, len(names))}
	dup := map[string]bool{}
	for i, s := range names {
		if _, ok := nt.ids[s]; ok {
			dup[s] = true
		}
		nt.ids[s] = uint64(i)
	}
	for s := range dup {
		delete(nt.ids, s)
	}
	return nt
}

func newTextNames(t *Trace) textNames {
	var tn textNames
	th := make([]string, len(t.Threads))
	for i, x := range t.Threads {
		th[i] = x.Name
	}
	lk := make([]string, len(t.Locks))
	for i, x := range t.Locks {
		lk[i] = x.Name
	}
	tn.threads, tn.locks, tn.strings = newNameTable(th), newNameTable(lk), newNameTable(t.Strings)
	return tn
}

// name is how ID id is written: its name if unique, else the ID.
func (nt *nameTable) name(id uint64) string {
	if id < uint64(len(nt.names)) {
		s := nt.names[id]
		if j, ok := nt.ids[s]; ok && j == id && s != "GIL" {
			if simpleWord(s) {
				return s
			}
			return strconv.Quote(s)
		}
	}
	return strconv.FormatUint(id, 10)
}

func (n *textNames) lock(l LockID, th ThreadID, t *Trace) string {
	if int(th) < len(t.Threads) && int(t.Threads[th].Proc) < len(t.Procs) && t.Procs[t.Threads[th].Proc].GIL == l {
		return "GIL"
	}
	return n.locks.name(uint64(l))
}

// simpleWord reports whether s can be written bare: a letter, then
// letters, digits or _-.:/<>.
func simpleWord(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && !strings.ContainsRune("_-.:/<>", rune(c)) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

// ParseText reads the text form written by WriteText and checks the trace
// with CheckValid. Errors name the line.
func ParseText(r io.Reader) (*Trace, error) {
	p := &textParser{t: &Trace{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxRecord)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return nil, fmt.Errorf("parsing trace text: line %d: %w", p.line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parsing trace text: line %d: %w", p.line+1, err)
	}
	if !p.sawHeader {
		return nil, fmt.Errorf("parsing trace text: no %q line", textHeader)
	}
	if len(p.t.Stacks) == 0 {
		p.t.Stacks = []Stack{{}}
	}
	if err := p.t.CheckValid(); err != nil {
		return nil, fmt.Errorf("parsing trace text: %w", err)
	}
	return p.t, nil
}

type textParser struct {
	t         *Trace
	line      int
	sawHeader bool
	names     *textNames // set at the first event
	stacks    []StackID  // per thread: the previous event's stack
}

// tokens splits a line into words and quoted strings (unquoted), up to a
// "#" comment.
func tokens(s string) ([]string, []bool, error) {
	var toks []string
	var quoted []bool
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" || s[0] == '#' {
			return toks, quoted, nil
		}
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, nil, fmt.Errorf("bad quoted string at %.20q", s)
			}
			u, _ := strconv.Unquote(q)
			toks, quoted = append(toks, u), append(quoted, true)
			s = s[len(q):]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		toks, quoted = append(toks, s[:end]), append(quoted, false)
		s = s[end:]
	}
}

func (p *textParser) parseLine(s string) error {
	toks, quoted, err := tokens(s)
	if err != nil || len(toks) == 0 {
		return err
	}
	if !p.sawHeader {
		if strings.Join(toks, " ") != textHeader {
			return fmt.Errorf("expected %q first", textHeader)
		}
		p.sawHeader = true
		return nil
	}
	if c := toks[0] + " "; !quoted[0] && (c[0] >= '0' && c[0] <= '9' || c[0] == '-') {
		return p.event(toks, quoted)
	}
	if p.names != nil {
		return fmt.Errorf("%q line after the events began", toks[0])
	}
	f := fields{toks: toks[1:], quoted: quoted[1:]}
	switch toks[0] {
	case "meta":
		p.meta(&f)
	case "dropped":
		p.t.Dropped = f.uint(64)
	case "truncated":
		p.t.Truncated = true
	case "string":
		f.index(len(p.t.Strings))
		p.t.Strings = append(p.t.Strings, f.str())
	case "process":
		f.index(len(p.t.Procs))
		pr := Process{Name: f.str(), PID: int(f.keyInt("pid"))}
		if v := f.key("gil"); v == "none" {
			pr.GIL = NoLock
		} else {
			pr.GIL = LockID(f.parseUint(v, 32))
		}
		p.t.Procs = append(p.t.Procs, pr)
	case "lock":
		f.index(len(p.t.Locks))
		l := Lock{Name: f.str(), Proc: ProcID(f.parseUint(f.key("proc"), 32))}
		if f.more() {
			f.word("gil")
			l.GIL = true
		}
		p.t.Locks = append(p.t.Locks, l)
	case "thread":
		f.index(len(p.t.Threads))
		p.t.Threads = append(p.t.Threads, Thread{Name: f.str(), Proc: ProcID(f.parseUint(f.key("proc"), 32))})
	case "frame":
		f.index(len(p.t.Frames))
		p.t.Frames = append(p.t.Frames, Frame{Func: f.str(), File: f.str(), Line: int(f.int())})
	case "stack":
		if len(p.t.Stacks) == 0 {
			p.t.Stacks = append(p.t.Stacks, Stack{})
		}
		f.index(len(p.t.Stacks))
		p.t.Stacks = append(p.t.Stacks, Stack{Parent: StackID(f.parseUint(f.key("parent"), 32)), Frame: FrameID(f.parseUint(f.key("frame"), 32))})
	default:
		return fmt.Errorf("unknown line %q", toks[0])
	}
	return f.done()
}

func (p *textParser) meta(f *fields) {
	m := &p.t.Meta
	switch key := f.word(""); key {
	case "workload":
		m.Workload = f.str()
	case "workload-file":
		m.WorkloadFile = f.str()
	case "workload-source":
		m.WorkloadSource = f.str()
	case "gil-mode":
		m.GILMode = GILMode(f.str())
	case "switch-interval":
		m.SwitchInterval = time.Duration(f.int())
	case "check-interval":
		m.CheckInterval = int(f.int())
	case "cores":
		m.Cores = int(f.int())
	case "gomaxprocs":
		m.GOMAXPROCS = int(f.int())
	case "loops-per-ms":
		v, err := strconv.ParseFloat(f.word(""), 64)
		f.fail(err)
		m.LoopsPerMS = v
	case "start":
		sec, nsec := f.int(), f.uint(64)
		if nsec >= 1e9 {
			f.fail(fmt.Errorf("start has %d nanoseconds, expected under 1e9", nsec))
		}
		m.Start = time.Unix(sec, int64(nsec)).UTC()
	case "version":
		m.Version = f.str()
	case "extra":
		k, v := f.str(), f.str()
		if m.Extra == nil {
			m.Extra = map[string]string{}
		}
		if _, dup := m.Extra[k]; dup {
			f.fail(fmt.Errorf("extra key %q appears twice", k))
		}
		m.Extra[k] = v
	default:
		f.fail(fmt.Errorf("unknown meta field %q", key))
	}
}

func (p *textParser) event(toks []string, quoted []bool) error {
	t := p.t
	if p.names == nil {
		if len(t.Stacks) == 0 {
			t.Stacks = []Stack{{}}
		}
		n := newTextNames(t)
		p.names = &n
		p.stacks = make([]StackID, len(t.Threads))
	}
	f := fields{toks: toks, quoted: quoted}
	e := Event{Time: f.int()}
	th := f.ref(&p.names.threads, "thread")
	if f.err == nil && th >= uint64(len(t.Threads)) {
		f.fail(fmt.Errorf("thread %d not in the table of %d threads", th, len(t.Threads)))
	}
	if f.err != nil {
		return f.err
	}
	e.Thread = ThreadID(th)
	kw := f.word("")
	for k := KindThreadStart; k < numKinds; k++ {
		if k.String() == kw {
			e.Kind = k
		}
	}
	if e.Kind == KindBad {
		return fmt.Errorf("unknown event kind %q", kw)
	}
	e.Arg = p.args(&f, e.Kind, e.Thread)
	e.Stack = p.stacks[e.Thread]
	if f.more() && strings.HasPrefix(f.toks[0], "@") && !f.quoted[0] {
		e.Stack = StackID(f.parseUint(strings.TrimPrefix(f.word(""), "@"), 32))
	}
	if err := f.done(); err != nil {
		return err
	}
	p.stacks[e.Thread] = e.Stack
	t.Events = append(t.Events, e)
	return nil
}

// args parses an event's arguments in its kind's form, or arg=N.
func (p *textParser) args(f *fields, k Kind, th ThreadID) uint64 {
	if f.more() && strings.HasPrefix(f.toks[0], "arg=") && !f.quoted[0] {
		return f.parseUint(f.key("arg"), 64)
	}
	n := p.names
	switch k {
	case KindLockWait:
		return uint64(p.lock(f, th))
	case KindLockAcquire:
		l := p.lock(f, th)
		return LockArg(l, uint8(f.enum(acquireNames[:])))
	case KindLockRelease:
		l := p.lock(f, th)
		return LockArg(l, uint8(f.enum(releaseNames[:])))
	case KindDropRequest:
		l := p.lock(f, th)
		return DropArg(l, ThreadID(f.ref(&n.threads, "thread")))
	case KindIOBegin:
		return f.ref(&n.strings, "string")
	case KindNativeBegin:
		return uint64(f.enum([]string{"keeps-gil", "releases-gil"}))
	case KindThreadStart:
		if f.more() && f.toks[0] == "existed" && !f.quoted[0] {
			f.word("")
			return ThreadExisted
		}
	}
	return 0
}

func (p *textParser) lock(f *fields, th ThreadID) LockID {
	if f.more() && f.toks[0] == "GIL" && !f.quoted[0] {
		f.word("")
		pr := p.t.Threads[th].Proc
		if int(pr) >= len(p.t.Procs) {
			f.fail(fmt.Errorf("thread's process %d not in the table", pr))
			return 0
		}
		return p.t.Procs[pr].GIL
	}
	return LockID(f.ref(&p.names.locks, "lock"))
}

// fields consumes the tokens of a line; its first error sticks.
type fields struct {
	toks   []string
	quoted []bool
	err    error
}

func (f *fields) fail(err error) {
	if f.err == nil && err != nil {
		f.err = err
	}
}

func (f *fields) more() bool { return f.err == nil && len(f.toks) > 0 }

func (f *fields) done() error {
	if f.err == nil && len(f.toks) > 0 {
		f.fail(fmt.Errorf("unexpected %q at the end of the line", f.toks[0]))
	}
	return f.err
}

// next returns the next token and whether it was quoted.
func (f *fields) next() (string, bool) {
	if f.err != nil {
		return "", false
	}
	if len(f.toks) == 0 {
		f.fail(errors.New("line ends early"))
		return "", false
	}
	s, q := f.toks[0], f.quoted[0]
	f.toks, f.quoted = f.toks[1:], f.quoted[1:]
	return s, q
}

// word reads a bare word, which must be want unless want is "".
func (f *fields) word(want string) string {
	s, q := f.next()
	if f.err == nil && (q || want != "" && s != want) {
		if want == "" {
			want = "a bare word"
		}
		f.fail(fmt.Errorf("found %q, expected %s", s, want))
	}
	return s
}

func (f *fields) str() string {
	s, q := f.next()
	if f.err == nil && !q {
		f.fail(fmt.Errorf("found %s, expected a quoted string", s))
	}
	return s
}

func (f *fields) parseUint(s string, bits int) uint64 {
	if f.err != nil {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, bits)
	f.fail(err)
	return v
}

func (f *fields) uint(bits int) uint64 { return f.parseUint(f.word(""), bits) }

func (f *fields) int() int64 {
	s := f.word("")
	if f.err != nil {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err == nil && int64(int(v)) != v {
		err = fmt.Errorf("%d overflows int", v)
	}
	f.fail(err)
	return v
}

// index reads a table row's index, which must be the next one.
func (f *fields) index(want int) {
	if v := f.uint(64); f.err == nil && v != uint64(want) {
		f.fail(fmt.Errorf("row %d out of order, expected %d", v, want))
	}
}

// key reads key=value and returns the value.
func (f *fields) key(k string) string {
	s := f.word("")
	v, ok := strings.CutPrefix(s, k+"=")
	if f.err == nil && !ok {
		f.fail(fmt.Errorf("found %q, expected %s=", s, k))
	}
	return v
}

func (f *fields) keyInt(k string) int64 {
	v, err := strconv.ParseInt(f.key(k), 10, 64)
	if f.err == nil && err == nil && int64(int(v)) != v {
		err = fmt.Errorf("%d overflows int", v)
	}
	f.fail(err)
	return v
}

// ref reads a name or an ID of table nt.
func (f *fields) ref(nt *nameTable, what string) uint64 {
	s, q := f.next()
	if f.err != nil {
		return 0
	}
	if !q && s != "" && s[0] >= '0' && s[0] <= '9' {
		return f.parseUint(s, 32)
	}
	id, ok := nt.ids[s]
	if !ok {
		f.fail(fmt.Errorf("no %s named %q", what, s))
	}
	return id
}

// enum reads one of names and returns its index.
func (f *fields) enum(names []string) int {
	s := f.word("")
	for i, n := range names {
		if s == n {
			return i
		}
	}
	f.fail(fmt.Errorf("found %q, expected one of %s", s, strings.Join(names, ", ")))
	return 0
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
