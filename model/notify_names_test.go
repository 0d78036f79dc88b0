package model_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestManyNotifyPairs: 24 threads waiting for each other's notifies made
// 452 notify lock names, past a workload's 256, and a model that did not
// load; the names stay within maxNotifyNames and the model loads.
func TestManyNotifyPairs(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: pairs\nclock: virtual\nthreads:\n")
	for i := 0; i < 24; i++ {
		fmt.Fprintf(&b, "  - {name: w%d, run: f%d}\n", i, i)
	}
	b.WriteString("functions:\n")
	for i := 0; i < 24; i++ {
		fmt.Fprintf(&b, "  f%d: [{repeat: {times: 40, body: [{compute: 1ms}, {wait: {duration: 3ms, lock: q%d}}]}}]\n", i, i)
	}
	src := b.String()
	w, err := workload.Parse("pairs.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := vm.Run(context.Background(), w, vm.Options{Cores: 4})
	if err != nil {
		t.Fatal(err)
	}
	out, err := model.Build(tracer.Derive(tr), model.Options{Source: "pairs.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, "\"notify "); i >= 0 {
			j := strings.Index(line[i+1:], "\"")
			labels[line[i+1:i+1+j]] = true
		}
	}
	t.Logf("distinct notify labels: %d; waits until notify: %d, plain waits: %d", len(labels), strings.Count(string(out), "until: notify"), strings.Count(string(out), "- wait: {duration"))
	if _, err := workload.Parse("model.yaml", out); err != nil {
		msg := err.Error()
		if len(msg) > 400 {
			msg = msg[:400]
		}
		t.Errorf("the model does not load: %s", msg)
	}
}
