package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// TestJSONSchemaDrift checks that the committed JSON Schema is what
// JSONSchema returns now.
func TestJSONSchemaDrift(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", JSONSchemaFile))
	if err != nil {
		t.Fatalf("%v; run `make generate` and commit %s", err, JSONSchemaFile)
	}
	if got := JSONSchema(); !bytes.Equal(got, want) {
		t.Errorf("%s is stale; run `make generate` and commit it\n%s", JSONSchemaFile, firstDiff(got, want))
	}
}

// compileJSONSchema compiles the schema of the language with a draft-07
// validator, as an editor would.
func compileJSONSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("rsgen.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("rsgen.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlInstance turns a YAML document into the JSON value the YAML language
// server validates. What a JSON value cannot hold (a repeated key, an
// alias that contains itself) is an error here, as the language server
// reports it as YAML before any schema is applied.
func yamlInstance(src []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil // an empty document is null
	}
	return yamlValue(doc.Content[0], 0)
}

func yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > 64 {
		return nil, fmt.Errorf("line %d: nesting deeper than 64 (an alias that contains itself?)", n.Line)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, depth+1)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: repeated key %q", k.Line, k.Value)
			}
			v, err := yamlValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			v, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return b, err
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		return json.Number(fmt.Sprint(f)), nil
	}
	return n.Value, nil
}

// TestJSONSchemaAcceptsValid validates every schema of the repository and
// every valid golden case: the JSON Schema must never reject what rsgen
// accepts, or editors would flag correct schemas.
func TestJSONSchemaAcceptsValid(t *testing.T) {
	s := compileJSONSchema(t)
	paths, _ := filepath.Glob("../schema/*.yaml")
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	paths = append(paths, valid...)
	if len(paths) < 3 {
		t.Fatalf("found only %v", paths)
	}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := yamlInstance(src)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s: rejected by the JSON Schema:\n%v", path, err)
		}
	}
}

// jsonSchemaVerdicts says, for every invalid golden case, what the JSON
// Schema makes of it: "rejected" when at least one of its problems is one
// of shape the JSON Schema expresses; "yaml" when it is not a JSON value
// at all, which the language server reports as YAML; "accepted" when all
// its problems need rsgen. The reasons say which problems are which. A
// new invalid case must be added here.
var jsonSchemaVerdicts = map[string]struct{ verdict, why string }{
	"bad_constraints":        {"rejected", "a negative length, a bound that is not a number, a non-boolean no_control and an empty or repeated enum are expressed; which constraint applies to which field type, min above max, the regexp syntax and the Validate field need rsgen"},
	"bad_mime":               {"rejected", "MIME pattern, length, reserved types and entry types are expressed; one MIME type used by two entries is not"},
	"const_collision":        {"accepted", "Go names colliding after derivation (RouteAB, MIMEFileName) and a route name without letters need rsgen's naming"},
	"deep_list":              {"yaml", "the self-referencing alias is no JSON value; the depth of list types (8) is not expressed"},
	"duplicate_key":          {"yaml", "repeated keys are a YAML error in the language server, before any schema"},
	"duplicate_route":        {"accepted", "a repeated (interaction, route) pair compares items of a list, which JSON Schema cannot"},
	"empty":                  {"rejected", "a null document is not an object"},
	"empty_route":            {"rejected", "route has minLength 1"},
	"empty_values":           {"rejected", "empty strings are excluded by minLength and patterns"},
	"field_collision":        {"rejected", "the field name \"user id\" breaks the name pattern; user_id and userId colliding as Go fields needs rsgen"},
	"fnf_response":           {"rejected", "a fire-and-forget route's response must be empty and its response_metadata empty"},
	"initial_non_channel":    {"rejected", "initial is only allowed on request-channel routes, and only as empty"},
	"invalid_go_name":        {"accepted", "whether a route name makes an exported Go identifier needs rsgen's naming"},
	"keyword":                {"rejected", "a keyword as package or entry name, and an unexported go:, are expressed; shadowed names (string, err) and the Data field are not"},
	"many":                   {"rejected", "the unknown key, the empty route name, initial off request-channel, the response of a fire-and-forget and the request of a metadata-push are expressed; unknown types and the duplicate route are not"},
	"method_collision":       {"accepted", "two routes deriving the same method or constant need rsgen's naming"},
	"missing_key":            {"rejected", "required keys are expressed"},
	"not_mapping":            {"rejected", "the top level must be an object"},
	"push_request":           {"rejected", "a metadata-push route's request and response must be empty"},
	"open_metadata":          {"rejected", "open_metadata is excluded off request-channel; an entry in both lists and an undeclared entry are not expressed"},
	"recursive":              {"accepted", "a type containing itself through required fields needs the type graph"},
	"reserved_deadline_mime": {"rejected", "the reserved MIME types are an enumeration the pattern excludes"},
	"reserved_method":        {"rejected", "package main is expressed; method names taken by the generated code (Close, Conn, MarshalJSON) are not"},
	"type_collision":         {"rejected", "declaring a built-in type name is expressed; Go names taken by other types or generated names are not"},
	"unknown_entry":          {"rejected", "a repeated entry in a list (uniqueItems) and a string instead of a list are expressed; an undeclared entry is not"},
	"unknown_interaction":    {"rejected", "interaction is an enumeration"},
	"unknown_key":            {"rejected", "additionalProperties is false everywhere"},
	"unknown_type":           {"rejected", "bytes as a field type, a list of two types and integer as a payload are expressed; undeclared type names are not"},
	"wrong_kind":             {"rejected", "the kind of every value is expressed"},
	"yaml_syntax":            {"yaml", "a YAML syntax error"},
}

// TestJSONSchemaRejectsInvalid checks every invalid golden case against
// jsonSchemaVerdicts.
func TestJSONSchemaRejectsInvalid(t *testing.T) {
	s := compileJSONSchema(t)
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	seen := map[string]bool{}
	for _, path := range invalid {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		seen[name] = true
		want, ok := jsonSchemaVerdicts[name]
		if !ok {
			t.Errorf("%s: not in jsonSchemaVerdicts; say whether the JSON Schema can reject it", path)
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := "accepted"
		inst, err := yamlInstance(src)
		if err != nil {
			got = "yaml"
		} else if err := s.Validate(inst); err != nil {
			got = "rejected"
		}
		if got != want.verdict {
			t.Errorf("%s: %s by the JSON Schema, want %s (%s)", path, got, want.verdict, want.why)
		}
	}
	for name := range jsonSchemaVerdicts {
		if !seen[name] {
			t.Errorf("jsonSchemaVerdicts lists %s, which is not in testdata/invalid", name)
		}
	}
}
