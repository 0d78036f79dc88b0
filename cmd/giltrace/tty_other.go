//go:build !linux

package main

// terminalForeground: tracing real programs is Linux's only.
func terminalForeground() bool { return false }
