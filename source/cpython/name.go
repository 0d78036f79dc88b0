package cpython

// ProgramName is the name a run of argv is recorded under (Meta.Workload):
// the script's name without .py, the module of -m, else the command's
// name. The CLI names the run's directory with it before the run starts.
func ProgramName(argv []string) string {
	name, _ := workloadName(argv)
	if name == "" {
		return "python"
	}
	return name
}

// ScriptPath is the script file argv runs (`python3 [options] SCRIPT
// ...`), or "" when it runs none (-c, -m, a script from standard input,
// the interactive interpreter).
func ScriptPath(argv []string) string {
	if _, file := scriptName(argv); file != "-" {
		return file
	}
	return ""
}
