package perfetto

import (
	"bufio"

	"google.golang.org/protobuf/encoding/protowire"
)

// packer writes TracePackets, each as a Trace.packet field, keeping the
// incremental state: the last timestamp and the names interned so far.
type packer struct {
	bw      *bufio.Writer
	err     error
	out     []byte // the packets not yet written to bw
	pkt, te []byte // scratch buffers

	flows *flows
	names map[string]uint32 // interned name -> iid, assigned in order of first use
	list  []string          // names by iid-1
	sent  int               // names already sent in InternedData
	last  int64             // the previous packet's time
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

// reset writes the packet that starts the event sequence: it clears the
// incremental state, defines the incremental clock at BOOTTIME 0 (the
// trace's time 0) and makes it the default clock of later packets.
func (p *packer) reset() {
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

	pkt := protowire.AppendTag(p.pkt[:0], fPktTimestamp, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, 0)
	pkt = protowire.AppendTag(pkt, fPktTimestampClock, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, clockBoottime)
	pkt = protowire.AppendTag(pkt, fPktClockSnapshot, protowire.BytesType)
	pkt = protowire.AppendBytes(pkt, snap)
	pkt = protowire.AppendTag(pkt, fPktSequenceID, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, sequenceID)
	pkt = protowire.AppendTag(pkt, fPktSequenceFlags, protowire.VarintType)
	pkt = protowire.AppendVarint(pkt, seqIncrementalStateCleared)
	pkt = protowire.AppendTag(pkt, fPktDefaults, protowire.BytesType)
	p.pkt = protowire.AppendBytes(pkt, defaults)
	p.write()
	p.last, p.sent = 0, 0
}

// Tags (field number and wire type) of the fields of every event packet.
const (
	tagTracePacket      = fTracePacket<<3 | uint64(protowire.BytesType)
	tagPktTimestamp     = fPktTimestamp<<3 | uint64(protowire.VarintType)
	tagPktSequenceID    = fPktSequenceID<<3 | uint64(protowire.VarintType)
	tagPktSequenceFlags = fPktSequenceFlags<<3 | uint64(protowire.VarintType)
	tagPktTrackEvent    = fPktTrackEvent<<3 | uint64(protowire.BytesType)
	tagTEType           = fTEType<<3 | uint64(protowire.VarintType)
	tagTETrackUUID      = fTETrackUUID<<3 | uint64(protowire.VarintType)
	tagTENameIID        = fTENameIID<<3 | uint64(protowire.VarintType)
	tagTEFlowIDs        = fTEFlowIDs<<3 | uint64(protowire.Fixed64Type)
	tagTETermFlowID     = fTETermFlowID<<3 | uint64(protowire.Fixed64Type)
)

// event writes the packet of record r.
func (p *packer) event(r record) {
	te := appendVarint(p.te[:0], tagTEType)
	te = appendVarint(te, uint64(r.typ))
	te = appendVarint(te, tagTETrackUUID)
	te = appendVarint(te, uint64(r.track))
	if r.name != 0 {
		te = appendVarint(te, tagTENameIID)
		te = appendVarint(te, uint64(r.name))
	}
	if r.span >= 0 && p.flows != nil {
		for _, f := range p.flows.of(r.span) { // those leaving, then those entering
			tag := uint64(tagTEFlowIDs)
			if f.in {
				tag = tagTETermFlowID
			}
			te = appendVarint(te, tag)
			te = protowire.AppendFixed64(te, f.id)
		}
	}
	p.te = te

	if r.name == 0 || int(r.name) <= p.sent {
		// No names to send (most packets): the packet goes straight to
		// p.out, its length worked out first.
		delta := uint64(r.t - p.last)
		p.last = r.t
		if p.err != nil {
			return
		}
		// Tags, the sequence ID and its flags are one byte each.
		size := 1 + protowire.SizeVarint(delta) + 4 + 1 + protowire.SizeVarint(uint64(len(te))) + len(te)
		out := append(p.out, byte(tagTracePacket))
		out = appendVarint(out, uint64(size))
		out = append(out, byte(tagPktTimestamp))
		out = appendVarint(out, delta)
		out = append(out, byte(tagPktSequenceID), sequenceID, byte(tagPktSequenceFlags), seqNeedsIncrementalState, byte(tagPktTrackEvent))
		out = appendVarint(out, uint64(len(te)))
		p.out = append(out, te...)
		if len(p.out) >= 64<<10 {
			p.flush()
		}
		return
	}
	pkt := appendVarint(p.pkt[:0], tagPktTimestamp)
	pkt = appendVarint(pkt, uint64(r.t-p.last))
	p.last = r.t
	pkt = appendVarint(pkt, tagPktSequenceID)
	pkt = appendVarint(pkt, sequenceID)
	pkt = appendVarint(pkt, tagPktSequenceFlags)
	pkt = appendVarint(pkt, seqNeedsIncrementalState)
	pkt = p.appendNames(pkt, int(r.name)) // names not sent yet: the fast path above took the rest
	pkt = appendVarint(pkt, tagPktTrackEvent)
	pkt = appendVarint(pkt, uint64(len(te)))
	p.pkt = append(pkt, te...)
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

// appendNames appends InternedData with the names not sent yet, up to iid
// upTo.
func (p *packer) appendNames(pkt []byte, upTo int) []byte {
	var data, n []byte
	for ; p.sent < upTo; p.sent++ {
		n = protowire.AppendTag(n[:0], fNameIID, protowire.VarintType)
		n = protowire.AppendVarint(n, uint64(p.sent+1))
		n = appendString(n, fNameName, p.list[p.sent])
		data = protowire.AppendTag(data, fInternedEventNames, protowire.BytesType)
		data = protowire.AppendBytes(data, n)
	}
	pkt = protowire.AppendTag(pkt, fPktInternedData, protowire.BytesType)
	return protowire.AppendBytes(pkt, data)
}
