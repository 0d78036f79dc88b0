package chrome

import (
	"bufio"
	"context"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// bufferSize is the size of the buffered writer: 256 KiB amortises the
// underlying Write calls (a file, a pipe) over a few thousand events.
const bufferSize = 256 << 10

// checkEvery is how many events are written between checks of the context
// and of the writer's error, so that a cancelled export of a huge trace
// stops promptly without checking on every event.
const checkEvery = 4096

// out writes the JSON events one at a time: each event is appended to a
// reused scratch buffer and copied to the buffered writer, so that writing
// allocates nothing per event and never holds more than one event.
type out struct {
	ctx    context.Context
	w      *bufio.Writer
	b      []byte // the event being built
	events int    // events written so far
	err    error  // first error: the context's or the writer's
}

func newOut(ctx context.Context, w io.Writer) *out {
	return &out{ctx: ctx, w: bufio.NewWriterSize(w, bufferSize), b: make([]byte, 0, 1024)}
}

// begin starts an event: a separator, then "{".
func (o *out) begin() {
	o.b = o.b[:0]
	if o.events > 0 {
		o.b = append(o.b, ",\n"...)
	} else {
		o.b = append(o.b, '\n')
	}
	o.b = append(o.b, '{')
}

// end closes the event and writes it.
func (o *out) end() {
	o.b = append(o.b, '}')
	if o.err != nil {
		return
	}
	if _, err := o.w.Write(o.b); err != nil {
		o.err = err
		return
	}
	o.events++
	if o.events%checkEvery == 0 {
		o.err = o.ctx.Err()
	}
}

// raw writes s outside any event (the document's frame).
func (o *out) raw(s string) {
	if o.err == nil {
		_, o.err = o.w.WriteString(s)
	}
}

// flush writes what is buffered and returns the first error.
func (o *out) flush() error {
	if o.err != nil {
		return o.err
	}
	return o.w.Flush()
}

// appendMicros appends ns nanoseconds as microseconds with exactly three
// decimals ("1234.567"), the unit of the trace-event format, computed with
// integers so that the bytes never depend on float formatting.
func appendMicros(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1000, 10)
	f := ns % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// appendFloat appends v as a JSON number, or as a string when it is not
// finite (JSON has no NaN or infinity).
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return appendString(b, strconv.FormatFloat(v, 'g', -1, 64))
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Quotes, backslashes and control
// characters are escaped (Perfetto's tokenizer rejects raw control
// characters), and invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
