package exporttest

import "github.com/giltrace/giltrace/tracer"

// readTrace reads a .giltrace file.
func readTrace(path string) (*tracer.Trace, error) { return tracer.ReadFile(path) }
