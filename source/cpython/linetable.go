package cpython

// Line tables map a bytecode offset to a source line. CPython changed
// their format twice in the versions supported here; each decoder below
// follows the notes in the interpreter's Objects/lnotab_notes.txt (3.9,
// 3.10) and InternalDocs/locations.md (3.11+).

// lineLnotab decodes a 3.9 co_lnotab: pairs of (bytecode increment,
// signed line increment); lasti is a byte offset.
func lineLnotab(tab []byte, first int, lasti int) int {
	line, addr := first, 0
	for i := 0; i+1 < len(tab); i += 2 {
		addr += int(tab[i])
		if addr > lasti {
			break
		}
		line += int(int8(tab[i+1]))
	}
	return line
}

// lineTable310 decodes a 3.10 co_linetable: pairs of (bytecode length,
// signed line delta), a delta of -128 meaning no line; offset is a byte
// offset. It returns 0 for an offset without a line.
func lineTable310(tab []byte, first int, offset int) int {
	line, start := first, 0
	for i := 0; i+1 < len(tab); i += 2 {
		end := start + int(tab[i])
		d := int8(tab[i+1])
		cur := -1
		if d != -128 {
			line += int(d)
			cur = line
		}
		if offset >= start && offset < end {
			return max(cur, 0)
		}
		start = end
	}
	return 0
}

// lineTable311 decodes a 3.11+ location table; index is in code units
// (2-byte instructions). It returns 0 for an index without a line.
func lineTable311(tab []byte, first int, index int) int {
	return lineTable311At(tab, first, index, false)
}

// lineNear311 is lineTable311, but an instruction without a location (the
// jump back at the end of an if inside a loop, on 3.11, where the eval
// breaker releases the GIL) has the line of the last instruction before it
// that has one, as 3.12's compiler gives it.
func lineNear311(tab []byte, first int, index int) int {
	return lineTable311At(tab, first, index, true)
}

func lineTable311At(tab []byte, first int, index int, near bool) int {
	line, addr, located := first, 0, 0
	for i := 0; i < len(tab); {
		b := tab[i]
		if b&0x80 == 0 {
			return 0 // not at an entry's start: corrupt
		}
		code := int(b>>3) & 15
		length := int(b&7) + 1
		i++
		cur := -1
		switch {
		case code == 15: // no location
		case code == 14: // long form
			var d int
			d, i = svarint(tab, i)
			line += d
			cur = line
			for range 3 {
				_, i = varint(tab, i)
			}
		case code == 13: // no column
			var d int
			d, i = svarint(tab, i)
			line += d
			cur = line
		case code >= 10: // one-line form
			line += code - 10
			cur = line
			i += 2
		default: // short form
			cur = line
			i++
		}
		if index >= addr && index < addr+length {
			if cur < 0 && near {
				return located
			}
			return max(cur, 0)
		}
		if cur >= 0 {
			located = cur
		}
		addr += length
	}
	return 0
}

func varint(tab []byte, i int) (int, int) {
	if i >= len(tab) {
		return 0, i
	}
	b := tab[i]
	i++
	v, shift := int(b&63), 6
	for b&64 != 0 && i < len(tab) {
		b = tab[i]
		i++
		v |= int(b&63) << shift
		shift += 6
	}
	return v, i
}

func svarint(tab []byte, i int) (int, int) {
	v, i := varint(tab, i)
	if v&1 != 0 {
		return -(v >> 1), i
	}
	return v >> 1, i
}
