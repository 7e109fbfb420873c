package gen

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a position in a schema file; Line and Col start at 1.
type Pos struct {
	Line, Col int
}

// Error is one problem found in a schema, at a position.
type Error struct {
	// File is the schema path as given to Parse.
	File string
	Pos  Pos
	// Msg says what is wrong, without the position.
	Msg string
}

// Error formats the problem as "file:line:col: message", the form editors
// and go vet use, so that tools can jump to it.
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// ErrorList is every problem found in a schema, sorted by position.
type ErrorList []*Error

// Error joins the problems, one a line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sort orders the list by position; problems at the same position keep the
// order in which they were found, so the output is deterministic.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		if c := cmp.Compare(a.Pos.Line, b.Pos.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Pos.Col, b.Pos.Col)
	})
}

// problems collects the errors of one schema; each step of Parse adds to
// the same list.
type problems struct {
	file string
	list ErrorList
}

// at reports a problem at pos.
func (p *problems) at(pos Pos, format string, args ...any) {
	if pos.Line < 1 {
		pos = Pos{1, 1}
	}
	p.list = append(p.list, &Error{File: p.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}
