package tracer

import (
	"strings"
	"time"
)

// Meta describes a run: what ran, how, where and when.
type Meta struct {
	Workload       string            // the workload's name
	WorkloadFile   string            // the path it was loaded from
	WorkloadSource string            // the workload file's full text
	GILMode        GILMode           // how the threads share the interpreter
	SwitchInterval time.Duration     // cpython mode's switch interval
	CheckInterval  int               // legacy mode's check interval, in instructions
	Cores          int               // the CPUs the run could use at once (internal/cpus): its affinity within its cgroup's CPU limit; the simulated cores
	GOMAXPROCS     int               // runtime.GOMAXPROCS(0) during the run
	LoopsPerMS     float64           // interpreter calibration: countdown iterations per millisecond, alone
	Start          time.Time         // wall-clock time of the run's start (time 0 of the events)
	Version        string            // the giltrace version that recorded it
	Extra          map[string]string // anything else, written sorted by key
}

// Process is a VM process: an interpreter instance with its own GIL.
type Process struct {
	Name string
	PID  int    // the pid shown for it; >= 1
	GIL  LockID // its GIL, or NoLock in free-threaded mode
}

// Thread is a guest thread.
type Thread struct {
	Name string
	Proc ProcID
}

// Lock is a GIL or a guest lock.
type Lock struct {
	Name string
	Proc ProcID
	GIL  bool // the process's GIL rather than a guest lock
}

// Frame is a guest function at a place in the workload file.
type Frame struct {
	Func string // the function's name
	File string // the workload file
	Line int    // 1-based line of the function's definition or call site; 0 if unknown
}

// ProgramFile reports whether file, a frame's, is the program's own code:
// a path or the name of a script or workload file (python3 app.py), but
// not a frozen module of the interpreter ("<frozen importlib._bootstrap>"),
// a file of the standard library or of installed packages, nor a name such
// as "hasattr" or "?" (a frame a recorder read from memory the interpreter
// was changing, or could not place).
func ProgramFile(file string) bool {
	path := strings.Contains(file, "/") || strings.HasSuffix(file, ".py") || strings.HasSuffix(file, ".pyw") ||
		strings.HasSuffix(file, ".yaml") || strings.HasSuffix(file, ".yml")
	return path && !strings.HasPrefix(file, "<") && !strings.Contains(file, "/lib/python") &&
		!strings.Contains(file, "/site-packages/") && !strings.Contains(file, "/dist-packages/")
}

// OwnFile reports whether file, a frame's, is the program's own code in
// this trace: a file ProgramFile says is, or, for a real program run as a
// module (python3 -m pkg.mod, the metadata's "command"), a file of that
// module's top-level package wherever it is installed, site-packages or
// the standard library (QA: `python -m solo` from a virtualenv's
// site-packages was "0 % own code: mostly start-up, import less", and a
// program that then exited with status 1 "failed before its own code
// ran").
func (t *Trace) OwnFile(file string) bool {
	if ProgramFile(file) {
		return true
	}
	pkg := MainPackage(t.Meta.Extra["command"])
	if pkg == "" {
		return false
	}
	// The path inside the directory its package was found in: after the
	// last site-packages or dist-packages, else after lib/pythonX.Y (the
	// standard library's: python3 -m http.server). Not anywhere in the
	// path (review: `python -m myproj` with its virtualenv in
	// ~/myproj/.venv would have owned every installed package).
	rest := ""
	if i := max(strings.LastIndex(file, "/site-packages/"), strings.LastIndex(file, "/dist-packages/")); i >= 0 {
		rest = file[i+len("/site-packages/"):]
	} else if i := strings.LastIndex(file, "/lib/python"); i >= 0 {
		if j := strings.IndexByte(file[i+len("/lib/python"):], '/'); j >= 0 {
			rest = file[i+len("/lib/python")+j+1:]
		}
	}
	return strings.HasPrefix(rest, pkg+"/") || rest == pkg+".py"
}

// MainPackage is the top-level package of the module a Python command
// line runs (python3 -X dev -m pkg.mod args, python3 -um pkg: "pkg"), ""
// when it runs a script, -c code or stdin. The command is the metadata's,
// its words joined by spaces.
func MainPackage(command string) string {
	args := strings.Fields(command)
	top := func(mod string) string { return strings.Split(mod, ".")[0] }
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "-" || !strings.HasPrefix(a, "-") {
			return "" // a script, or stdin
		}
		if strings.HasPrefix(a, "--") {
			if a == "--check-hash-based-pycs" {
				i++
			}
			continue
		}
		// Short options, several in one word: m, c, X and W take the
		// rest of the word, or the next one, as their argument.
		for k := 1; k < len(a); k++ {
			switch a[k] {
			case 'm':
				if k+1 < len(a) {
					return top(a[k+1:])
				}
				if i+1 < len(args) {
					return top(args[i+1])
				}
				return ""
			case 'c':
				return ""
			case 'X', 'W':
				if k+1 == len(a) {
					i++
				}
				k = len(a)
			}
		}
	}
	return ""
}

// Stack is a node of the stack trie: its innermost frame and the stack of
// its caller. Stack 0 (NoStack) is the root and has no frame.
type Stack struct {
	Parent StackID
	Frame  FrameID
}

// Trace is a recorded run: metadata, tables and time-ordered events.
//
// Events are sorted by Time; events of one thread have strictly increasing
// times. A Trace is not modified by the functions that read it, so it may be
// read concurrently.
type Trace struct {
	Meta    Meta
	Strings []string // Strings[0] == ""
	Procs   []Process
	Threads []Thread
	Locks   []Lock
	Frames  []Frame
	Stacks  []Stack // Stacks[0] is the root
	Events  []Event

	Dropped   uint64 // events lost because the recorder's bound was hit
	Truncated bool   // read from a file that was cut off; Events hold its complete part
	Salvaged  string // read with ReadOptions.Salvage from a damaged file: the damage, before which Events were kept; "" if none
}

// StackFrames returns the frames of stack s, innermost first. It allocates.
func (t *Trace) StackFrames(s StackID) []Frame {
	var out []Frame
	for s != NoStack && int(s) < len(t.Stacks) {
		st := t.Stacks[s]
		out = append(out, t.Frames[st.Frame])
		s = st.Parent
	}
	return out
}

// StackMatcher returns whether a stack, or one it was called from, is one
// for which has is true, remembered per stack: for a question asked of
// every span's stack (is it the program's own code, is it importing). A
// stack out of the table, or met again on its own chain (a cycle in a
// corrupt table), is not.
func (t *Trace) StackMatcher(has func(Stack) bool) func(StackID) bool {
	seen := map[StackID]bool{}
	var match func(StackID) bool
	match = func(s StackID) bool {
		if s == NoStack || int(s) >= len(t.Stacks) {
			return false
		}
		if v, ok := seen[s]; ok {
			return v
		}
		seen[s] = false // a cycle ends here
		v := has(t.Stacks[s]) || match(t.Stacks[s].Parent)
		seen[s] = v
		return v
	}
	return match
}

// Duration is the time of the last event: the run's wall time.
func (t *Trace) Duration() int64 {
	if len(t.Events) == 0 {
		return 0
	}
	return t.Events[len(t.Events)-1].Time
}

// Str returns string s of the table, or "" if s is out of range.
func (t *Trace) Str(s StringID) string {
	if int(s) < len(t.Strings) {
		return t.Strings[s]
	}
	return ""
}
