package cpython

import (
	"reflect"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want rawEvent
		ok   bool
	}{
		{
			"         python3-11593   (  11579) [001] DBZff   359.580053: drop_gil: (0x7fa6ca04f3e0) ts=0x561ecd625d70 ra=0x7fa6c9efcddd f0={0x1,0x2,0x0}",
			rawEvent{mono: 359_580_053_000, tid: 11593, tgid: 11579, event: "drop_gil", args: []arg{
				{"ts", []uint64{0x561ecd625d70}}, {"ra", []uint64{0x7fa6c9efcddd}}, {"f0", []uint64{1, 2, 0}}}},
			true,
		},
		{
			"  my thread-name-7-42 (   40) [000] .....  12.000001: take_gil_ret: (0x7f00 <- 0x7f10)",
			rawEvent{mono: 12_000_001_000, tid: 42, tgid: 40, event: "take_gil_ret"},
			true,
		},
		{
			"   python3-9 (       9) [000] d.... 100.5: lock_acquire: (0x7f) lock=0x55 us=-1",
			rawEvent{mono: 100_500_000_000, tid: 9, tgid: 9, event: "lock_acquire", args: []arg{
				{"lock", []uint64{0x55}}, {"us", []uint64{1<<64 - 1}}}},
			true,
		},
		{
			"  python3-77 (      77) [001] ...1.   7.000002: sched_process_exit: comm=python3 pid=77 prio=120 group_dead=1",
			rawEvent{mono: 7_000_002_000, tid: 77, tgid: 77, event: "sched_process_exit", args: []arg{
				{"comm", []uint64{0}}, {"pid", []uint64{77}}, {"prio", []uint64{120}}, {"group_dead", []uint64{1}}}},
			true,
		},
		{"CPU:1 [LOST 17 EVENTS]", rawEvent{lost: 17}, true},
		{"# tracer: nop", rawEvent{}, false},
		{"", rawEvent{}, false},
	}
	for _, tc := range tests {
		got, ok := parseLine(tc.line)
		if ok != tc.ok || ok && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseLine(%q)\n got %+v, %v\nwant %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("python3-1 (1) [000] ..... 1.000001: drop_gil: (0x1) ts=0x2 f0={0x1,0x2}")
	f.Add("CPU:0 [LOST 3 EVENTS]")
	f.Fuzz(func(t *testing.T, s string) {
		parseLine(s)
	})
}
