package perfetto

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestInOrderIsTheSort: merging the runs gives the records sorted by
// order, for records in a few sorted runs and for records in any order.
func TestInOrderIsTheSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 300 {
		recs := make([]record, r.IntN(200))
		at := int64(0)
		for i := range recs {
			if round%2 == 0 || r.IntN(20) == 0 {
				at = int64(r.IntN(50)) // a new run, or any order
			}
			at += int64(r.IntN(3))
			recs[i] = record{t: at, typ: uint8(1 + r.IntN(3)), track: uint32(i)} // track: which record
		}
		idx := make([]int, len(recs))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(i, j int) int { return order(recs, i, j) })
		var want []record
		for _, i := range idx {
			want = append(want, recs[i])
		}
		var got []record
		for rec := range inOrder(recs) {
			got = append(got, rec)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: merged\n%v\nsorted\n%v", round, got, want)
		}
	}
}

// byteCases is 300 traces of random bytes (events in any order), each of
// up to 3*(most-1) bytes.
func byteCases(r *rand.Rand, most int) []testkit.Case {
	var cases []testkit.Case
	for i := range 300 {
		cases = append(cases, testkit.Case{Name: fmt.Sprintf("bytes-%d", i), Trace: testkit.RandomBytes(r, most)})
	}
	return cases
}

// TestBlocksAreRecords: the blocks made a buffer at a time (fill, the
// records Export writes, each block a sequence) are those records makes,
// in the same order, with the same names interned in the same order; and
// check finds every block of a valid trace in order (no fallback to one
// merged sequence), a real program's cut off mid-write too (QA: a call
// of no length at the cut sent it to the merged sequence, which wrote its
// end first).
func TestBlocksAreRecords(t *testing.T) {
	cases := append(testkit.All(t),
		testkit.Case{Name: "turns", Trace: testkit.Turns(20_000)},
		testkit.Case{Name: "webapp", Trace: testkit.WebApp(6, 200)})
	cases = append(cases, cutTraces(t)...)
	valid := len(cases)
	cases = append(cases, byteCases(rand.New(rand.NewPCG(7, 8)), 200)...)
	for k, c := range cases {
		s := tracer.Derive(c.Trace)
		l := newLayout(c.Trace)
		p1, p2 := &packer{names: map[string]uint32{}}, &packer{names: map[string]uint32{}}
		g := newGen(s, l, p1)
		sorted := g.check()
		if k < valid && !sorted {
			t.Errorf("%s: a block out of order", c.Name)
		}
		var got []record
		buf := make([]record, 1+k%7) // pairs split across buffers too
		for _, src := range g.sources() {
			for n := g.fill(&src, buf); n > 0; n = g.fill(&src, buf) {
				got = append(got, buf[:n]...)
			}
		}
		want := records(s, l, p2)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d records made by block, %d by records, they differ", c.Name, len(got), len(want))
		}
		if !slices.Equal(p1.list, p2.list) {
			t.Errorf("%s: names %q, want %q", c.Name, p1.list, p2.list)
		}
	}
}

// TestFlowsAsSearched: the flows found by galloping from each thread's
// previous span are those a binary search of each handoff finds, for
// valid traces and for events in any order; indexed densely or sparsely,
// asked for in the spans' order (as the exporter asks) or in any order.
func TestFlowsAsSearched(t *testing.T) {
	cases := append(testkit.All(t),
		testkit.Case{Name: "turns", Trace: testkit.Turns(20_000)},
		testkit.Case{Name: "cpu", Trace: testkit.CPUThreads(64, 2000)})
	cases = append(cases, byteCases(rand.New(rand.NewPCG(9, 10)), 300)...)
	for _, c := range cases {
		s := tracer.Derive(c.Trace)
		// The reference: each handoff's spans by binary search.
		first := make([]int, len(s.Trace.Threads)+1)
		for id := range s.Trace.Threads {
			first[id+1] = first[id] + len(s.ThreadStates(tracer.ThreadID(id)))
		}
		spanAt := func(th tracer.ThreadID, at int64) int32 {
			ss := s.ThreadStates(th)
			i := sort.Search(len(ss), func(i int) bool { return ss[i].End > at })
			if i == len(ss) || ss[i].Start > at {
				return -1
			}
			return int32(first[th] + i)
		}
		want := make([][]flowID, len(s.States))
		var in [][]flowID = make([][]flowID, len(s.States))
		for i, h := range s.Handoffs {
			if h.From == tracer.NoThread || h.From == h.To {
				continue
			}
			from, to := spanAt(h.From, h.Released-1), spanAt(h.To, h.Acquired)
			if from < 0 || to < 0 {
				continue
			}
			want[from] = append(want[from], flowID{id: uint64(i + 1)})
			in[to] = append(in[to], flowID{id: uint64(i + 1), in: true})
		}
		for i := range want {
			want[i] = append(want[i], in[i]...)
		}
		order := rand.New(rand.NewPCG(uint64(len(s.States)), 3)).Perm(len(s.States))
		for _, dense := range []int{1, 0, -1} {
			for _, shuffled := range []bool{false, true} {
				got := makeFlows(s, dense)
				for k := range want {
					i := k
					if shuffled {
						i = order[k]
					}
					if g := got.of(int32(i)); !slices.Equal(g, want[i]) {
						t.Fatalf("%s (dense %d, shuffled %v): span %d: flows %v, want %v", c.Name, dense, shuffled, i, g, want[i])
					}
				}
			}
		}
	}
}

// TestPatchLen: a length written as one byte and patched is the varint
// protowire writes, for lengths of every varint size, after any prefix.
func TestPatchLen(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 129, 300, 16383, 16384, 70000, 2100000} {
		content := make([]byte, n)
		for i := range content {
			content[i] = byte(i * 7)
		}
		prefix := []byte{9, 8, 7}
		b := append(append(append([]byte(nil), prefix...), 0), content...)
		got := patchLen(b, len(prefix))
		want := protowire.AppendBytes(append([]byte(nil), prefix...), content)
		if !bytes.Equal(got, want) {
			t.Errorf("length %d: patched differs from protowire's", n)
		}
	}
}
