package gen

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// TestReservedLocals checks that every identifier a generated function with
// metadata entry parameters uses is a package-level name, a predeclared
// one, one of its entry parameters or a name Names.reservedLocals returns:
// an emitter that writes a local name from anywhere but Names.Locals makes
// it fail, so an entry can never be named after a local it would shadow.
func TestReservedLocals(t *testing.T) {
	m, err := Parse("matrix.yaml", []byte(matrixSchema()))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	reserved := m.Names.reservedLocals()
	params := map[string]bool{}
	for _, e := range m.Entries {
		params[e.Param] = true
	}
	fset := token.NewFileSet()
	var asts []*ast.File
	global := map[string]bool{}
	for _, name := range sortedKeys(files) {
		f, err := goparser.ParseFile(fset, name, files[name], 0)
		if err != nil {
			t.Fatal(err)
		}
		asts = append(asts, f)
		for name := range f.Scope.Objects {
			global[name] = true
		}
	}
	// The functions that take entry parameters: the adapters and the call
	// methods of Client and Peer.
	withEntries := func(d *ast.FuncDecl) bool {
		if d.Recv != nil {
			typ := d.Recv.List[0].Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			recv := typ.(*ast.Ident).Name
			return (recv == m.Server.Caller || recv == m.Client.Caller) &&
				!slices.Contains(m.Server.CallerMethods, d.Name.Name)
		}
		return strings.HasPrefix(d.Name.Name, m.Server.funcPrefix) || strings.HasPrefix(d.Name.Name, m.Client.funcPrefix)
	}
	checked := 0
	for _, f := range asts {
		for _, decl := range f.Decls {
			d, ok := decl.(*ast.FuncDecl)
			if !ok || !withEntries(d) {
				continue
			}
			checked++
			// Selected names and composite literal keys are not
			// identifiers of the function's scope.
			skip := map[*ast.Ident]bool{d.Name: true}
			ast.Inspect(d, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					skip[n.Sel] = true
				case *ast.KeyValueExpr:
					if id, ok := n.Key.(*ast.Ident); ok {
						skip[id] = true
					}
				case *ast.Ident:
					if !skip[n] && n.Name != "_" && !reserved[n.Name] && !params[n.Name] && !predeclared[n.Name] && !global[n.Name] {
						t.Errorf("%s: %s uses %s, which is not in Names.Locals", fset.Position(n.Pos()), d.Name.Name, n.Name)
					}
				}
				return true
			})
		}
	}
	if checked < 100 {
		t.Fatalf("checked %d functions; want every adapter and call method of the matrix schema", checked)
	}
}
