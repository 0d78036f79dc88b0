package workload

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// BenchmarkParse measures the loader on a fixture and on a file near the
// size limits (4096 functions, ~24000 operations, ~0.8 MiB).
func BenchmarkParse(b *testing.B) {
	fixture, err := os.ReadFile("../../fixtures/api-service.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var big strings.Builder
	big.WriteString("name: big\nthreads: [{run: f0}]\nfunctions:\n")
	for i := 0; i < MaxFunctions; i++ {
		fmt.Fprintf(&big, "  f%d:\n", i)
		if i+1 < MaxFunctions && i%32 != 31 {
			fmt.Fprintf(&big, "    - call: f%d\n", i+1)
		}
		for j := 0; j < 5; j++ {
			big.WriteString("    - io: {duration: 1ms, kind: db}\n")
		}
	}
	if big.Len() > MaxFileSize {
		b.Fatalf("big workload is %d bytes", big.Len())
	}
	for _, bc := range []struct {
		name string
		src  []byte
	}{{"fixture", fixture}, {"big", []byte(big.String())}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("b.yaml", bc.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
