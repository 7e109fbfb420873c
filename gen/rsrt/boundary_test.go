package rsrt

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// libraryImports lists the directories (relative to the module root)
// whose non-test files may import rsocket-go, and why. Everything else
// under gen/, generated/, impl/ and cmd/ goes through the boundary,
// gen/rsrt/internal/rsock.
var libraryImports = map[string]string{
	"gen/rsrt/internal/rsock": "the boundary itself",
	"gen/rsrt/guard": "the checking transports are rsocket-go transports: they read and write the library's frame " +
		"types (the listing is in guard's package doc)",
	"gen/rsrt/internal/frametest":     "for tests only: raw frames built with the library's frame types",
	"cmd/chat-load/internal/loadbase": "the hand-written rsocket-go baseline the load tool compares against, by definition",
}

// TestOneBoundaryAroundTheLibrary fails when a non-test Go file under gen/,
// generated/, impl/ or cmd/ imports rsocket-go (or reactor-go, which is
// its reactive layer) outside the directories libraryImports allows, so
// that the boundary cannot silently erode.
func TestOneBoundaryAroundTheLibrary(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	for _, top := range []string{"gen", "generated", "impl", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name := d.Name(); name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			for _, imp := range f.Imports {
				p, err := strconv.Unquote(imp.Path.Value)
				if err != nil {
					return err
				}
				if !isLibrary(p) {
					continue
				}
				if _, ok := libraryImports[rel]; !ok {
					t.Errorf("%s imports %s: only gen/rsrt/internal/rsock may (or a directory listed, with its reason, in libraryImports)",
						filepath.ToSlash(path), p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: is the module root %s?", checked, root)
	}
}

func isLibrary(path string) bool {
	for _, lib := range []string{"github.com/rsocket/rsocket-go", "github.com/jjeffcaii/reactor-go"} {
		if path == lib || strings.HasPrefix(path, lib+"/") {
			return true
		}
	}
	return false
}
