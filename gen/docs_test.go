package gen

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedDocs checks that every exported name of the generated code
// has a doc comment: types, functions, methods, constants, struct fields
// and interface methods.
func TestGeneratedDocs(t *testing.T) {
	sources := map[string][]byte{"matrix.yaml": []byte(matrixSchema())}
	paths, _ := filepath.Glob("testdata/valid/*.yaml")
	paths = append(paths, "../schema/chat.yaml", "../schema/kitchen.yaml")
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sources[p] = src
	}
	for name, src := range sources {
		m, err := Parse(name, src)
		if err != nil {
			t.Fatal(err)
		}
		files, err := Generate(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range sortedKeys(files) {
			fset := token.NewFileSet()
			f, err := goparser.ParseFile(fset, file, files[file], goparser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, missing := range undocumented(f) {
				t.Errorf("%s: %s: %s has no doc comment", name, fset.Position(missing.Pos()), missing.Name)
			}
		}
	}
}

// undocumented returns the exported identifiers of f without a doc
// comment.
func undocumented(f *ast.File) []*ast.Ident {
	var out []*ast.Ident
	fieldsOf := func(list *ast.FieldList) {
		for _, fd := range list.List {
			for _, n := range fd.Names {
				if n.IsExported() && fd.Doc == nil {
					out = append(out, n)
				}
			}
		}
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Name.IsExported() && d.Doc == nil {
				out = append(out, d.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
						out = append(out, s.Name)
					}
					switch tt := s.Type.(type) {
					case *ast.StructType:
						fieldsOf(tt.Fields)
					case *ast.InterfaceType:
						fieldsOf(tt.Methods)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						// A constant needs its own doc; the group comment
						// only introduces the block.
						if n.IsExported() && s.Doc == nil {
							out = append(out, n)
						}
					}
				}
			}
		}
	}
	return out
}
