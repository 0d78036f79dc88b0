package perfetto

import (
	"bufio"
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"
)

// packer writes TracePackets, each as a Trace.packet field, keeping the
// incremental state: the last timestamp and the names interned so far.
type packer struct {
	bw      *bufio.Writer
	err     error
	out     []byte // the packets not yet written to bw
	pkt, te []byte // scratch buffers

	flows    *flows
	names    map[string]uint32 // interned name -> iid, assigned in order of first use
	list     []string          // names by iid-1
	seq      uint32            // the sequence being written (trusted_packet_sequence_id)
	defTrack uint32            // the sequence's default track (TrackEventDefaults), 0 for none
	sent     []uint32          // per iid: the sequence that last sent it in InternedData
	last     int64             // the previous packet's time in the sequence
	seqField []byte            // the sequence's trusted_packet_sequence_id field, encoded
}

// intern returns the iid of name (assigning one on first use).
func (p *packer) intern(name string) uint32 {
	if id, ok := p.names[name]; ok {
		return id
	}
	p.list = append(p.list, name)
	id := uint32(len(p.list))
	p.names[name] = id
	return id
}

// write writes the packet in p.pkt, as a Trace.packet field, to p.out,
// which goes to p.bw in pieces of 64 KiB.
func (p *packer) write() {
	if p.err != nil {
		return
	}
	p.out = appendVarint(p.out, tagTracePacket)
	p.out = appendVarint(p.out, uint64(len(p.pkt)))
	p.out = append(p.out, p.pkt...)
	if len(p.out) >= 64<<10 {
		p.flush()
	}
}

// flush writes p.out to p.bw.
func (p *packer) flush() {
	if p.err == nil && len(p.out) > 0 {
		_, p.err = p.bw.Write(p.out)
	}
	p.out = p.out[:0]
}

// track writes a TrackDescriptor: uuid, parent (0 for none), name ("" for
// none) and a process or thread descriptor (field, message).
func (p *packer) track(uuid, parent uint32, name string, field int, desc []byte) {
	td := protowire.AppendTag(p.te[:0], fTDUUID, protowire.VarintType)
	td = protowire.AppendVarint(td, uint64(uuid))
	if parent != 0 {
		td = protowire.AppendTag(td, fTDParent, protowire.VarintType)
		td = protowire.AppendVarint(td, uint64(parent))
	}
	if name != "" {
		td = appendString(td, fTDName, name)
	}
	if field != 0 {
		td = protowire.AppendTag(td, protowire.Number(field), protowire.BytesType)
		td = protowire.AppendBytes(td, desc)
	}
	p.te = td
	pkt := protowire.AppendTag(p.pkt[:0], fPktTrackDesc, protowire.BytesType)
	p.pkt = protowire.AppendBytes(pkt, td)
	p.write()
}

// reset writes the packet that starts event sequence seq (from 1, each
// used once): it clears the sequence's incremental state, defines its
// incremental clock at BOOTTIME 0 (the trace's time 0) and makes it the
// default clock of the sequence's later packets, and track (unless 0) the
// default track of their events, which then name a track only when it is
// another. Every name interned so far can then be sent once in the
// sequence.
func (p *packer) reset(seq, track uint32) {
	var snap, c []byte
	for _, clk := range []struct {
		id   uint64
		incr bool
	}{{clockBoottime, false}, {clockIncremental, true}} {
		c = protowire.AppendTag(c[:0], fClockID, protowire.VarintType)
		c = protowire.AppendVarint(c, clk.id)
		c = protowire.AppendTag(c, fClockTS, protowire.VarintType)
		c = protowire.AppendVarint(c, 0)
		if clk.incr {
			c = protowire.AppendTag(c, fClockIncr, protowire.VarintType)
			c = protowire.AppendVarint(c, 1)
		}
		snap = protowire.AppendTag(snap, fSnapClocks, protowire.BytesType)
		snap = protowire.AppendBytes(snap, c)
	}
	snap = protowire.AppendTag(snap, fSnapPrimary, protowire.VarintType)
	snap = protowire.AppendVarint(snap, clockBoottime)
	var defaults []byte
	defaults = protowire.AppendTag(defaults, fDefaultsClock, protowire.VarintType)
	defaults = protowire.AppendVarint(defaults, clockIncremental)
	if track != 0 {
		var te []byte
		te = protowire.AppendTag(te, fTEDefaultsTrackUUID, protowire.VarintType)
		te = protowire.AppendVarint(te, uint64(track))
		defaults = protowire.AppendTag(defaults, fDefaultsTrackEvent, protowire.BytesType)
		defaults = protowire.AppendBytes(defaults, te)
	}

	pkt := protowire.AppendTag(p.pkt[:0], fPktTimestamp, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, 0)
	pkt = protowire.AppendTag(pkt, fPktTimestampClock, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, clockBoottime)
	pkt = protowire.AppendTag(pkt, fPktClockSnapshot, protowire.BytesType)
	pkt = protowire.AppendBytes(pkt, snap)
	pkt = protowire.AppendTag(pkt, fPktSequenceID, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, uint64(seq))
	pkt = protowire.AppendTag(pkt, fPktSequenceFlags, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, seqIncrementalStateCleared)
	pkt = protowire.AppendTag(pkt, fPktDefaults, protowire.BytesType)
	p.pkt = protowire.AppendBytes(pkt, defaults)
	p.write()
	p.seq, p.defTrack, p.last = seq, track, 0
	p.seqField = appendVarint(append(p.seqField[:0], byte(tagPktSequenceID)), uint64(seq))
	if len(p.sent) <= len(p.list) {
		p.sent = make([]uint32, len(p.list)+1)
	}
}

// Tags (field number and wire type) of the fields of every event packet.
const (
	tagTracePacket   = fTracePacket<<3 | uint64(protowire.BytesType)
	tagPktTimestamp  = fPktTimestamp<<3 | uint64(protowire.VarintType)
	tagPktSequenceID = fPktSequenceID<<3 | uint64(protowire.VarintType)
	tagPktTrackEvent = fPktTrackEvent<<3 | uint64(protowire.BytesType)
	tagTEType        = fTEType<<3 | uint64(protowire.VarintType)
	tagTETrackUUID   = fTETrackUUID<<3 | uint64(protowire.VarintType)
	tagTENameIID     = fTENameIID<<3 | uint64(protowire.VarintType)
	tagTEFlowIDs     = fTEFlowIDs<<3 | uint64(protowire.Fixed64Type)
	tagTETermFlowID  = fTETermFlowID<<3 | uint64(protowire.Fixed64Type)
)

// event writes the packet of record r, in one pass: each length is
// written as one byte and widened afterwards in the rare case that it
// does not fit (a span with many flows).
func (p *packer) event(r *record) {
	if r.name != 0 && p.sent[r.name] != p.seq {
		p.eventWithName(r)
		return
	}
	var fl []flowID
	if r.span >= 0 && p.flows != nil {
		fl = p.flows.of(r.span)
	}
	if r.track == p.defTrack && len(fl) == 0 {
		p.eventShort(r)
		return
	}
	delta := uint64(r.t - p.last)
	p.last = r.t
	out := append(p.out, byte(tagTracePacket), 0)
	pkt := len(out) - 1
	out = append(out, p.seqField...)
	out = append(out, byte(tagPktTimestamp))
	out = appendVarint(out, delta)
	out = append(out, byte(tagPktTrackEvent), 0)
	te := len(out) - 1
	out = p.appendTrackEvent(out, r, fl)
	out = patchLen(out, te)
	p.out = patchLen(out, pkt)
	if len(p.out) >= 64<<10 {
		p.flush()
	}
}

// shortMax bounds a packet that eventShort writes: its two tags and
// lengths, the sequence id (at most 6 bytes), the timestamp's tag and
// delta (at most 11), the track event's tag and length, its type (2) and
// its name (at most 6).
const shortMax = 2 + 6 + 11 + 2 + 2 + 6

// eventShort is event for the packets of most records: on the
// sequence's default track, with no flows and a name already sent. It
// writes the bytes event would, in place, every length in one byte.
func (p *packer) eventShort(r *record) {
	n := len(p.out)
	if cap(p.out)-n < shortMax {
		p.out = append(p.out, make([]byte, shortMax)...)[:n]
	}
	b := p.out[n : n+shortMax]
	delta := uint64(r.t - p.last)
	p.last = r.t
	b[0] = byte(tagTracePacket)
	i := 2 + copy(b[2:], p.seqField)
	b[i] = byte(tagPktTimestamp)
	i = putVarint(b, i+1, delta)
	b[i] = byte(tagPktTrackEvent)
	te := i + 1
	b[te+1], b[te+2] = byte(tagTEType), r.typ
	i = te + 3
	if r.name != 0 {
		b[i] = byte(tagTENameIID)
		i = putVarint(b, i+1, uint64(r.name))
	}
	b[te] = byte(i - te - 1)
	b[1] = byte(i - 2)
	p.out = p.out[:n+i]
	if len(p.out) >= 64<<10 {
		p.flush()
	}
}

// putVarint writes v as a varint at b[i:] and returns the index after it.
func putVarint(b []byte, i int, v uint64) int {
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
	return i + 1
}

// appendTrackEvent appends the fields of r's TrackEvent, with its flows
// fl (flows.of).
func (p *packer) appendTrackEvent(b []byte, r *record, fl []flowID) []byte {
	b = append(b, byte(tagTEType), r.typ)
	if r.track != p.defTrack {
		b = append(b, byte(tagTETrackUUID))
		b = appendVarint(b, uint64(r.track))
	}
	if r.name != 0 {
		b = append(b, byte(tagTENameIID))
		b = appendVarint(b, uint64(r.name))
	}
	for _, f := range fl { // those leaving, then those entering
		tag := uint64(tagTEFlowIDs)
		if f.in {
			tag = tagTETermFlowID
		}
		b = appendVarint(b, tag)
		b = protowire.AppendFixed64(b, f.id)
	}
	return b
}

// patchLen sets the length byte at b[at] to the length of what follows it,
// widening it to a longer varint if it does not fit in one byte.
func patchLen(b []byte, at int) []byte {
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	var v [binary.MaxVarintLen64]byte
	enc := protowire.AppendVarint(v[:0], uint64(n))
	extra := len(enc) - 1
	b = append(b, enc[1:]...) // room for the longer length
	copy(b[at+1+extra:], b[at+1:len(b)-extra])
	copy(b[at:], enc)
	return b
}

// eventWithName writes the packet of record r with InternedData for its
// name, the first use of the name in the sequence.
func (p *packer) eventWithName(r *record) {
	pkt := appendVarint(p.pkt[:0], tagPktSequenceID)
	pkt = appendVarint(pkt, uint64(p.seq))
	pkt = appendVarint(pkt, tagPktTimestamp)
	pkt = appendVarint(pkt, uint64(r.t-p.last))
	p.last = r.t
	pkt = p.appendName(pkt, r.name)
	pkt = append(pkt, byte(tagPktTrackEvent), 0)
	te := len(pkt) - 1
	var fl []flowID
	if r.span >= 0 && p.flows != nil {
		fl = p.flows.of(r.span)
	}
	pkt = p.appendTrackEvent(pkt, r, fl)
	p.pkt = patchLen(pkt, te)
	p.write()
}

// appendVarint is protowire.AppendVarint, with the one-byte values (most
// of a packet's) appended inline.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// appendName appends InternedData with name iid, and marks it sent in the
// sequence.
func (p *packer) appendName(pkt []byte, iid uint32) []byte {
	var data, n []byte
	n = protowire.AppendTag(n, fNameIID, protowire.VarintType)
	n = protowire.AppendVarint(n, uint64(iid))
	n = appendString(n, fNameName, p.list[iid-1])
	data = protowire.AppendTag(data, fInternedEventNames, protowire.BytesType)
	data = protowire.AppendBytes(data, n)
	p.sent[iid] = p.seq
	pkt = protowire.AppendTag(pkt, fPktInternedData, protowire.BytesType)
	return protowire.AppendBytes(pkt, data)
}
