package workload

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"
)

// schemaNode is the part of a JSON schema this test reads.
type schemaNode struct {
	Properties map[string]*schemaNode `json:"properties"`
	Items      *schemaNode            `json:"items"`
	AnyOf      []*schemaNode          `json:"anyOf"`
	OneOf      []*schemaNode          `json:"oneOf"`
	Required   []string               `json:"required"`
	Enum       []string               `json:"enum"`
	Defs       map[string]*schemaNode `json:"$defs"`
}

// keys returns the sorted property names of n and of the objects in its anyOf.
func (n *schemaNode) keys() []string {
	var ks []string
	for k := range n.Properties {
		ks = append(ks, k)
	}
	for _, a := range n.AnyOf {
		for k := range a.Properties {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	sort.Strings(ks)
	return ks
}

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestSchemaMatchesLoader keeps docs/workload.schema.json (for editors) in
// step with the loader: the same keys in every mapping, the same operations
// and GIL modes.
func TestSchemaMatchesLoader(t *testing.T) {
	data, err := os.ReadFile("../../docs/workload.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	check := func(place string, n *schemaNode) {
		t.Helper()
		if n == nil {
			t.Errorf("schema has no mapping for %q", place)
			return
		}
		if got, want := n.keys(), sortedCopy(formatKeys[place]); !slices.Equal(got, want) {
			t.Errorf("schema keys of %q = %v; the loader's are %v", place, got, want)
		}
	}
	check("", &root)
	check("gil", root.Properties["gil"])
	check("threads", root.Properties["threads"].Items)
	if got, want := sortedCopy(root.Properties["gil"].Properties["mode"].Enum), sortedCopy(gilModes); !slices.Equal(got, want) {
		t.Errorf("schema gil modes = %v; the loader's are %v", got, want)
	}
	var ops []string
	for _, alt := range root.Defs["op"].OneOf {
		if len(alt.Required) != 1 {
			t.Fatalf("an operation alternative requires %v; want its one name", alt.Required)
		}
		op := alt.Required[0]
		ops = append(ops, op)
		if _, long := formatKeys[op]; long {
			check(op, alt.Properties[op])
		}
	}
	if got, want := sortedCopy(ops), sortedCopy(opNames); !slices.Equal(got, want) {
		t.Errorf("schema operations = %v; the loader's are %v", got, want)
	}
}
