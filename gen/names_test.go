package gen

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"slices"
	"testing"
)

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
	// The functions that take entry parameters or fields: the codecs of
	// the request and open-metadata structs and the call methods of
	// Client and Peer.
	argsCodecs := map[string]bool{}
	for _, side := range []*Side{m.Server, m.Client} {
		for _, r := range side.Routes {
			if r.Args != "" {
				argsCodecs[r.ArgsEncode], argsCodecs[r.ArgsDecode] = true, true
			}
			if r.Open != "" {
				argsCodecs[r.OpenEncode], argsCodecs[r.OpenDecode] = true, true
			}
		}
	}
	if len(argsCodecs) == 0 {
		t.Fatal("the matrix schema makes no request struct")
	}
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
		return argsCodecs[d.Name.Name]
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
