package gen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
)

// emitPatterns declares the compiled patterns of o's fields: compiled once,
// when the package is initialised (validate compiled each already).
func emitPatterns(f *jen.File, o *Object) {
	for _, fd := range o.Fields {
		if fd.Rules.Regexp == "" {
			continue
		}
		f.Comment(fmt.Sprintf("%s is the pattern of field %q of type %q.", fd.Rules.Regexp, fd.Name, o.Name))
		f.Var().Id(fd.Rules.Regexp).Op("=").Qual("regexp", "MustCompile").Call(jen.Lit(fd.Rules.Pattern))
	}
}

// emitValidate declares the Validate method of a type with constraints:
// the field checks in field order, each returning an *rsrt.ValidationError
// that names the field's path. rsrt.DecodeJSON calls it on every value it
// decodes, so the handlers and callers see only valid values.
func emitValidate(f *jen.File, o *Object) {
	var body []jen.Code
	for _, fd := range o.Fields {
		path := jen.Lit(fd.Name)
		val := func() *jen.Statement { return jen.Id("v").Dot(fd.GoName) }
		if fd.Optional && fd.Type.Kind != FieldList {
			checks := valueChecks(fd.Type, fd.Rules, func() *jen.Statement { return jen.Op("*").Add(val()) },
				val, func() jen.Code { return path }, 0, false)
			if len(checks) > 0 {
				body = append(body, jen.If(val().Op("!=").Nil()).Block(checks...))
			}
			continue
		}
		body = append(body, valueChecks(fd.Type, fd.Rules, val, val, func() jen.Code { return path }, 0, fd.Optional)...)
	}
	body = append(body, jen.Return(jen.Nil()))
	f.Comment(fmt.Sprintf("%s reports the first field of v that breaks a constraint of the schema, as an "+
		"*rsrt.ValidationError naming its path (\"%s: ...\"), or nil. The decoders call it on every %s received.",
		validateMethod, firstPath(o), o.GoName))
	f.Func().Params(jen.Id("v").Op("*").Id(o.GoName)).Id(validateMethod).Params().Error().Block(body...)
}

// firstPath is an example path for the doc of o's Validate method.
func firstPath(o *Object) string {
	for _, fd := range o.Fields {
		if fd.Rules.Any() {
			return fd.Name
		}
	}
	for _, fd := range o.Fields {
		if fd.Type != nil && itemType(fd.Type).Kind == FieldObject && itemType(fd.Type).Object.Validates {
			return fd.Name + ".…"
		}
	}
	return "field"
}

// valueChecks returns the statements that check x, a value of type t, against
// r, and returns an error naming path when it fails. ref is x as a
// reference (the pointer of an optional object, x itself otherwise): a
// nested type's Validate is called on it. depth counts the enclosing lists
// (item counts apply at depth 0 only); emptyOK skips the item counts of an
// empty list (an optional list, for which empty and absent are the same).
func valueChecks(t *FieldType, r Rules, x, ref func() *jen.Statement, path func() jen.Code, depth int, emptyOK bool) []jen.Code {
	invalid := func(problem string) jen.Code {
		return jen.Return(rsrtQ("Invalid").Call(path(), jen.Lit(problem)))
	}
	var out []jen.Code
	switch t.Kind {
	case FieldList:
		if depth == 0 {
			count := func(op string, n *int64, problem string) {
				if n == nil {
					return
				}
				cond := jen.Len(x()).Op(op).Lit(int(*n))
				if emptyOK && op == "<" {
					cond = jen.Len(x()).Op(">").Lit(0).Op("&&").Add(cond)
				}
				out = append(out, jen.If(cond).Block(invalid(fmt.Sprintf(problem, *n, pluralS(*n)))))
			}
			count("<", r.MinItems, "fewer than %d item%s")
			count(">", r.MaxItems, "more than %d item%s")
		}
		i := fmt.Sprintf("i%d", depth)
		item := func() *jen.Statement { return x().Index(jen.Id(i)) }
		itemPath := func() jen.Code { return rsrtQ("Index").Call(path(), jen.Id(i)) }
		checks := valueChecks(t.Elem, r, item, item, itemPath, depth+1, false)
		if len(checks) > 0 {
			out = append(out, jen.For(jen.Id(i).Op(":=").Range().Add(x())).Block(checks...))
		}
	case FieldObject:
		if t.Object.Validates {
			out = append(out, jen.If(jen.Err().Op(":=").Add(ref()).Dot(validateMethod).Call(), jen.Err().Op("!=").Nil()).
				Block(jen.Return(rsrtQ("InvalidIn").Call(path(), jen.Err()))))
		}
	case FieldString:
		if r.MinLength != nil {
			out = append(out, jen.If(jen.Len(x()).Op("<").Lit(int(*r.MinLength))).
				Block(invalid(fmt.Sprintf("shorter than %d byte%s", *r.MinLength, pluralS(*r.MinLength)))))
		}
		if r.MaxLength != nil {
			out = append(out, jen.If(jen.Len(x()).Op(">").Lit(int(*r.MaxLength))).
				Block(invalid(fmt.Sprintf("longer than %d byte%s", *r.MaxLength, pluralS(*r.MaxLength)))))
		}
		if r.NoControl {
			out = append(out, jen.If(rsrtQ("HasControl").Call(x())).Block(invalid("contains a control character")))
		}
		if r.Pattern != "" {
			out = append(out, jen.If(jen.Op("!").Id(r.Regexp).Dot("MatchString").Call(x())).
				Block(invalid("does not match the pattern "+strconv.Quote(r.Pattern))))
		}
		out = append(out, enumCheck(r.Enum, false, x, invalid)...)
	case FieldInteger, FieldNumber:
		lit := func(b *Bound) jen.Code {
			if t.Kind == FieldInteger {
				return jen.Op(strconv.FormatInt(b.Int, 10))
			}
			return jen.Lit(b.Float)
		}
		if r.Minimum != nil {
			out = append(out, jen.If(x().Op("<").Add(lit(r.Minimum))).Block(invalid("less than "+r.Minimum.Text)))
		}
		if r.Maximum != nil {
			out = append(out, jen.If(x().Op(">").Add(lit(r.Maximum))).Block(invalid("greater than "+r.Maximum.Text)))
		}
		out = append(out, enumCheck(r.Enum, true, x, invalid)...)
	}
	return out
}

// pluralS is the plural ending of a count.
func pluralS(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// enumCheck is the switch that refuses a value outside enum.
func enumCheck(enum []string, integer bool, x func() *jen.Statement, invalid func(string) jen.Code) []jen.Code {
	if len(enum) == 0 {
		return nil
	}
	vals := make([]jen.Code, len(enum))
	shown := make([]string, len(enum))
	for i, e := range enum {
		if integer {
			vals[i], shown[i] = jen.Op(e), e
		} else {
			vals[i], shown[i] = jen.Lit(e), strconv.Quote(e)
		}
	}
	return []jen.Code{jen.Switch(x()).Block(
		jen.Case(vals...).Block(),
		jen.Default().Block(invalid("not one of "+strings.Join(shown, ", "))),
	)}
}
