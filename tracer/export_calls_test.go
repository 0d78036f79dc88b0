package tracer

// SetCallsApart sets how many call spans a run needs for them to be
// derived on another goroutine, and returns what restores it (tests).
func SetCallsApart(n int) (restore func()) {
	prev := callsApart
	callsApart = n
	return func() { callsApart = prev }
}
