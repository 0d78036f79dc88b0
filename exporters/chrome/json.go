package chrome

import (
	"context"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// bufferSize is how much output is buffered before it is written: 256 KiB
// amortises the underlying Write calls (a file, a pipe) over a few
// thousand events.
const bufferSize = 256 << 10

// checkEvery is how many events are written between checks of the context
// and of the writer's error, so that a cancelled export of a huge trace
// stops promptly without checking on every event.
const checkEvery = 4096

// out writes the JSON events one at a time: each event is appended to the
// output buffer, which is written once it holds bufferSize bytes, so that
// writing allocates nothing per event, copies each byte once, and never
// holds much more than bufferSize.
type out struct {
	ctx    context.Context
	w      io.Writer
	b      []byte // the output not written yet; the event being built is its tail
	events int    // events written so far
	err    error  // first error: the context's or the writer's
}

func newOut(ctx context.Context, w io.Writer) *out {
	return &out{ctx: ctx, w: w, b: make([]byte, 0, bufferSize+4096)}
}

// begin starts an event: a separator, then "{".
func (o *out) begin() {
	if o.events > 0 {
		o.b = append(o.b, ",\n"...)
	} else {
		o.b = append(o.b, '\n')
	}
	o.b = append(o.b, '{')
}

// end closes the event, and writes the buffer once it is full.
func (o *out) end() {
	o.b = append(o.b, '}')
	if o.err != nil {
		o.b = o.b[:0]
		return
	}
	o.events++
	if len(o.b) >= bufferSize {
		o.write()
	}
	if o.events%checkEvery == 0 && o.err == nil {
		o.err = o.ctx.Err()
	}
}

// write writes the buffer and empties it.
func (o *out) write() {
	if o.err == nil && len(o.b) > 0 {
		_, o.err = o.w.Write(o.b)
	}
	o.b = o.b[:0]
}

// raw writes s outside any event (the document's frame).
func (o *out) raw(s string) {
	if o.err == nil {
		o.b = append(o.b, s...)
	}
}

// flush writes what is buffered and returns the first error.
func (o *out) flush() error {
	o.write()
	return o.err
}

// appendMicros appends ns nanoseconds as microseconds with exactly three
// decimals ("1234.567"), the unit of the trace-event format, computed with
// integers so that the bytes never depend on float formatting. The digits
// are made in place, right to left: it is called twice per event.
func appendMicros(b []byte, ns int64) []byte {
	if ns == math.MinInt64 { // -ns overflows: the bytes it always gave
		b = append(b, '-')
		b = strconv.AppendInt(b, ns/1000, 10)
		f := ns % 1000
		return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	}
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	u := uint64(ns)
	f := u % 1000 // the decimals
	u /= 1000
	n := 1 // digits before the point
	for n < len(pow10) && u >= pow10[n] {
		n++
	}
	at := len(b)
	b = slices.Grow(b, n+4)[:at+n+4]
	d := b[at:]
	d[n], d[n+1], d[n+2], d[n+3] = '.', byte('0'+f/100), digits2[f%100*2], digits2[f%100*2+1]
	for i := n; u >= 100; { // two digits at a time, right to left
		r := u % 100
		u /= 100
		i -= 2
		d[i], d[i+1] = digits2[r*2], digits2[r*2+1]
	}
	if u >= 10 {
		d[0], d[1] = digits2[u*2], digits2[u*2+1]
	} else {
		d[0] = byte('0' + u)
	}
	return b
}

// pow10[n] is 10 to the n.
var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// digits2 is the two digits of 0 to 99.
const digits2 = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" +
	"40414243444546474849" + "50515253545556575859" + "60616263646566676869" + "70717273747576777879" +
	"80818283848586878889" + "90919293949596979899"

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
