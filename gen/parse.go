package gen

import (
	"path"
	"path/filepath"
)

// Parse reads the schema src from filename and returns its model, in three
// steps, each in its own file:
//
//   - decode (syntax.go): the YAML document into a syntax tree in which
//     every value keeps its position; the shape of the document is
//     checked (kinds of values, known, required and unique keys);
//   - validate (validate.go): the syntax tree into the model; references
//     are resolved and the rules of the schema language checked;
//   - name (names.go): every Go identifier of the generated code, fixed or
//     derived, is assigned in the model and checked for collisions.
//
// Each step reports every problem it finds, and the next runs on what the
// previous one could build, so that the problems of a schema come all at
// once. filename is only used in messages and in the generated header
// (with forward slashes, never as an absolute path). On failure the error
// is an [ErrorList] holding every problem found, sorted by position.
func Parse(filename string, src []byte) (*Model, error) {
	probs := &problems{file: filepath.ToSlash(filename)}
	var m *Model
	if syn := decode(src, probs); syn != nil {
		m = validate(syn, probs)
		m.Source = headerSource(filename)
		name(m, probs)
	}
	if len(probs.list) > 0 {
		probs.list.sort()
		return nil, probs.list
	}
	return m, nil
}

// headerSource is the schema path for the generated header: the path as
// given with forward slashes, except that an absolute path, which would
// differ between machines, is cut to its base name.
func headerSource(filename string) string {
	if filepath.IsAbs(filename) || path.IsAbs(filepath.ToSlash(filename)) {
		return path.Base(filepath.ToSlash(filename))
	}
	return filepath.ToSlash(filename)
}
