package tracer

import (
	"fmt"
	"hash/crc32"
	"strings"
)

// The .giltrace file format, version 1 (docs/trace-format.md has the byte
// layouts):
//
//	file    = magic version record* end-record
//	magic   = "GILTRACE"
//	version = uint32, little-endian
//	record  = type:byte  length:uvarint  payload:length bytes  crc:uint32 LE
//
// The CRC-32C (Castagnoli) covers the type byte, the length bytes and the
// payload, so a reader can tell exactly which record is damaged, and a file
// cut off mid-write still yields its complete records. Records come in this
// order: one meta record; table records (strings, procs, threads, locks,
// frames, stacks; each table may be split over several records, appended in
// order); event records; one end record.

// Magic starts every .giltrace file.
const Magic = "GILTRACE"

// FormatVersion is the version of the .giltrace format that Write writes.
// Read reads it and StreamVersion.
const FormatVersion = 1

// StreamVersion is the version a Stream writes: a trace written as the
// run goes, with per-thread event records, table rows appended after
// events and sync records (docs/trace-format.md, "Version 2").
const StreamVersion = 2

// Record types.
const (
	recMeta    byte = 1
	recStrings byte = 2
	recProcs   byte = 3
	recThreads byte = 4
	recLocks   byte = 5
	recFrames  byte = 6
	recStacks  byte = 7
	recEvents  byte = 8
	recEnd     byte = 9
	recSync    byte = 10 // version 2 only
	numRecs         = 11
)

var recNames = [numRecs]string{"", "meta", "strings", "procs", "threads", "locks", "frames", "stacks", "events", "end", "sync"}

func recName(t byte) string {
	if t > 0 && t < numRecs {
		return recNames[t]
	}
	return fmt.Sprintf("type %d", t)
}

// aRecName is recName with its article: "an events", "a meta".
func aRecName(t byte) string {
	n := recName(t)
	if strings.ContainsRune("aeiou", rune(n[0])) {
		return "an " + n
	}
	return "a " + n
}

// maxRecord bounds a record's payload: 64 MiB. Event records are at most
// about 150 KiB (batchEvents events of a few bytes); only the meta record,
// which holds the workload's source, could grow large.
const maxRecord = 64 << 20

// batchEvents is the most events in one event record: 4 Ki, so that a
// file cut off mid-write loses at most a few milliseconds of a busy run
// (about 20 KB), while the record's framing (about 12 bytes) stays below
// 0.1 % of it. A variable so that tests can make many small records.
var batchEvents = 4 << 10

// batchRows is the most table rows in one table record.
const batchRows = 16 << 10

// endTruncated is bit 0 of the end record's optional flags: the trace was
// already truncated when written (read from a cut-off file), so its
// threads may lack their thread-end.
const endTruncated = 1

// endCut is bit 1 of the end record's flags, version 2 only: events were
// dropped at the recorder's bound, and a cut time follows the flags; the
// events at or after it are not part of the trace (they count as dropped),
// so that the trace is a consistent prefix of the run, as Recorder.Finish
// makes it.
const endCut = 2

// Event encoding: a header byte, then the fields that differ.
//
//	header bits 0-3: Kind
//	bit 4: same thread as the previous event (no thread field)
//	bit 5: same stack as this thread's previous event (no stack field)
//	bit 6: Arg is 0 (no arg field)
//	bit 7: Arg is written raw (uvarint) rather than in its kind's compact form
const (
	evKindMask   = 0x0f
	evSameThread = 1 << 4
	evSameStack  = 1 << 5
	evArgZero    = 1 << 6
	evArgRaw     = 1 << 7
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// FormatError is a problem found in a .giltrace file: where it is and what
// was expected there.
type FormatError struct {
	Offset int64  // byte offset of the record (or of the header) in the file
	Record int    // index of the record, counting from 0 after the header; -1 for the header
	Type   string // the record's type, if known
	Event  int    // index of the event in the trace, or -1
	Err    error  // what is wrong
}

func (e *FormatError) Error() string {
	where := fmt.Sprintf("byte %d", e.Offset)
	if e.Record >= 0 {
		where += fmt.Sprintf(", record %d", e.Record)
		if e.Type != "" {
			where += " (" + e.Type + ")"
		}
	} else {
		where += ", header"
	}
	if e.Event >= 0 {
		where += fmt.Sprintf(", event %d", e.Event)
	}
	return where + ": " + e.Err.Error()
}

func (e *FormatError) Unwrap() error { return e.Err }

// TruncatedError reports a file that ends before its end record: it was cut
// off mid-write. Read returns it together with the trace of the file's
// complete records (Trace.Truncated set) when the file was cut off after its
// tables, and with a nil trace when it was cut off earlier.
type TruncatedError struct {
	Offset  int64  // the file's length: where it was cut off
	Record  int    // index of the incomplete (or missing) record
	Type    string // its type, if known
	Events  int    // complete events read
	Missing string // what was expected
}

func (e *TruncatedError) Error() string {
	typ := ""
	if e.Type != "" {
		typ = " (" + e.Type + ")"
	}
	return fmt.Sprintf("file cut off at byte %d in record %d%s after %d complete events: expected %s",
		e.Offset, e.Record, typ, e.Events, e.Missing)
}
