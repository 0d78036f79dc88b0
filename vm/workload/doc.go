// Package workload is giltrace's workload format (version 1): the YAML file
// that describes a Python-like program for the VM — its threads, functions
// and operations (compute, I/O, native calls, locks, repeats, joins, starts), its GIL
// settings, processes and seed. Load and Parse decode and check a file,
// reporting every problem with its file:line:col, the field and what was
// expected; the result is a Workload, which package vm compiles and runs.
//
// The format is documented for users in docs/workloads.md, with a JSON
// schema for editors in docs/workload.schema.json (a test keeps the two and
// this package in agreement). The limits of a file (Max*) keep a mistaken
// or hostile file from exhausting memory or running for days.
//
// This package imports only tracer (for the GIL mode) and the YAML decoder:
// it can be used without the VM, for example by an editor's checker.
package workload
