package tracer

import (
	"context"
	"errors"
	"testing"
)

// TestDeriveContext: a done context stops the derivation with its cause;
// otherwise it is Derive.
func TestDeriveContext(t *testing.T) {
	tr := genTrace(9, 1, 3, 3*deriveCheck)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("stopped by SIGINT")
	cancel(cause)
	if s, err := DeriveContext(ctx, tr); s != nil || !errors.Is(err, cause) {
		t.Errorf("cancelled: %v, %v", s, err)
	}
	s, err := DeriveContext(context.Background(), tr)
	if err != nil || len(s.States) != len(Derive(tr).States) || len(s.Waits) == 0 {
		t.Errorf("not cancelled: %v", err)
	}
}
