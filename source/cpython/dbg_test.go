package cpython

import (
	"context"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

func TestDbgPool(t *testing.T) {
	_, err := tracer.Record(context.Background(), Command([]string{pyenv("3.11.7"), "../../scripts/overhead/pool_blocking.py"}, Options{}), tracer.Config{})
	if err != nil {
		t.Fatal(err)
	}
}
