package diagnosis

import "github.com/giltrace/giltrace/tracer"

// VerdictCaseTraces are verdictCases' traces by name, for the tests of
// package diagnosis_test: those that import an exporter, which imports
// diagnosis through exporters/report (the warnings every output flags).
func VerdictCaseTraces() map[string]func() *tracer.Trace {
	m := make(map[string]func() *tracer.Trace, len(verdictCases))
	for _, c := range verdictCases {
		m[c.name] = c.trace
	}
	return m
}
