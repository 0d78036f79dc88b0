// Package diagnosis turns the spans of a run into the answer to "why didn't
// my threads speed up?": a per-thread breakdown of wall time (Summarize),
// GIL and speedup figures per process and for the run, the functions that
// wait and that make others wait, and verdicts in plain words with what to
// do about them (Analyze). docs/diagnosis.md explains every number and
// verdict; every threshold is a named constant of this package.
//
// It imports only tracer: any source of traces (the VM, a probed CPython
// process) gets the same diagnosis, and any consumer (the report exporter,
// compare, the CLI) renders the same Report.
package diagnosis
