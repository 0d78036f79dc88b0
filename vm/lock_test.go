package vm

import (
	"context"
	"testing"
)

// TestLockMutexOffInVirtualTime: the guest locks of a virtual run have no
// mutex (their threads are coroutines that run one at a time); those of a
// real run keep theirs.
func TestLockMutexOffInVirtualTime(t *testing.T) {
	if l := newLock(0, newVClock(context.Background(), 1, VirtualLoopsPerMS, 0), 1); !l.mu.off {
		t.Error("a virtual run's lock has its mutex on")
	}
	if l := newLock(0, &realClock{}, 1); l.mu.off {
		t.Error("a real run's lock has its mutex off")
	}
}
