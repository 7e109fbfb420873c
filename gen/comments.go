package gen

// Doc comments: a schema doc is a phrase written for a reader of the
// schema; Go wants a comment whose first sentence starts with the name it
// documents. The functions here attach the phrase to the name when its
// grammar is clear, and otherwise put the phrase after a neutral sentence
// of their own, so that every comment reads as English whatever the doc
// says.

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// docForm is how a doc phrase attaches to the Go name it documents.
type docForm int

const (
	// formSeparate: the grammar of the phrase is unclear; it follows a
	// neutral sentence ("X is an object type ... \nIf set, ...").
	formSeparate docForm = iota
	// formNoun: a noun phrase, after "is" ("X is a chat message").
	formNoun
	// formVerb: a verb phrase in the third person ("X selects what ...").
	formVerb
	// formImperative: a verb phrase in the imperative, conjugated ("Get
	// the order" -> "X gets the order").
	formImperative
	// formWhether: a condition, as Go documents booleans ("Whether the
	// order shipped" -> "X reports whether the order shipped").
	formWhether
)

// Closed classes of English words, which tell how a phrase starts.
var (
	// Words that start a noun phrase.
	determiners = wordSet("a an the one each every all any some no this that these those its their our your his her my")
	// Words after a verb that a plural noun does not take: "Selects what
	// ...", "Reports whether ...".
	verbObjects = wordSet("what which whether how if when where why who whom it them him us me its their his her our your my")
	// Words that start neither a noun phrase nor a verb phrase that could
	// follow the name: prepositions, conjunctions, pronouns, modals and
	// auxiliaries ("If set, ...", "Must be ...", "For each ...").
	notPhraseStart = wordSet("if when whenever while unless until because since although though after before " +
		"must should may might can could will would shall is are was were be been do does did not never also " +
		"for to in on at with by from of as into onto per via about over under between without see note deprecated " +
		"it we you they he she i there here how why what which who where otherwise else and or but so e.g i.e")
	// Words that end the noun phrase that starts a doc: determiners,
	// prepositions, relative pronouns and conjunctions. An auxiliary
	// before them makes the doc a whole sentence ("This route is
	// deprecated"), not a phrase to attach.
	phraseEnds = wordSet("a an the one each every all any some no its their our your his her my " +
		"for to in on at with by from of as into onto per via about over under between without " +
		"that which who whom whose where when while if and or but")
	auxiliaries = wordSet("is are was were has have had will would can could must should may might shall does do did")
	// Verbs in the third person that are rarely a plural noun at the start
	// of a doc: "Asks to cancel an order" is a verb phrase although
	// "Orders to ship" is a noun phrase.
	thirdPersonVerbs = wordSet("accepts adds allows announces applies asks asserts carries chooses closes collects " +
		"computes configures contains converts creates declares decodes defines deletes describes determines disables " +
		"enables encodes explains fetches finds gets gives grants holds identifies includes indicates informs joins " +
		"keeps leaves lets loads locates makes notifies opens overrides picks provides publishes reads receives refers " +
		"registers rejects removes replaces represents requires resolves retrieves returns saves says selects sends " +
		"serves shows specifies subscribes summarizes takes tells uses validates waits wraps writes maps")
	// Verbs in the imperative that API docs start with ("Stream new
	// orders", "Sign in as ..."); a route doc that starts with one is
	// conjugated whatever follows. Verbs whose past participle is the
	// same word (set, put, read, run) are left out: "Set when ..." is
	// not an imperative.
	imperatives = wordSet("accept acknowledge add append apply approve ask assign attach authenticate authorize " +
		"broadcast calculate call cancel change check clear close compute confirm connect convert copy create " +
		"delete deny describe detach disable disconnect download echo edit emit enable execute export fetch find " +
		"forward generate get handle import insert invoke join leave list load lock log mark modify move notify " +
		"open pause ping poll post process publish pull push put query read receive refresh register reject " +
		"remove rename replace report request reset resolve resume retrieve retry return save schedule " +
		"search send share show sign start stop store stream submit subscribe sync tell track unlock " +
		"unregister unsubscribe update upload validate verify wait watch write")
)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// firstWords returns the first two words of doc, lower-cased, without
// trailing punctuation.
func firstWords(doc string) (w1, w2 string) {
	ws := strings.Fields(doc)
	clean := func(i int) string {
		if i >= len(ws) {
			return ""
		}
		return strings.TrimRight(strings.ToLower(ws[i]), ",;:.!?")
	}
	return clean(0), clean(1)
}

// classify tells how doc attaches to a name. verbs is set for route docs,
// which SCHEMA.md asks to be verb phrases: there a word in -s is read as a
// verb ("Streams the names ..."), where for a type it could as well be a
// plural noun ("Files the server stores").
func classify(doc string, verbs bool) docForm {
	r, _ := utf8.DecodeRuneInString(doc)
	if !unicode.IsLetter(r) {
		return formSeparate // `code`, "quoted", 42, (aside)
	}
	w1, w2 := firstWords(doc)
	switch {
	case w1 == "whether":
		return formWhether
	case notPhraseStart[w1]:
		return formSeparate
	case isSentence(doc):
		return formSeparate // "This route is deprecated."
	case determiners[w1]:
		return formNoun
	case thirdPersonVerbs[w1]:
		return formVerb
	case !plural(w1):
		switch {
		case determiners[w2]:
			return formImperative // "Get the order", "List all orders"
		case imperatives[w1] && verbs:
			return formImperative // "Stream new orders"
		case imperatives[w1]:
			return formSeparate // "Cancel reason" or "Cancel orders"?
		}
		return formNoun // "Free-form labels", "UTF-8 text"
	case nounInS(w1) || w2 == "of":
		return formNoun // "Statistics a client reports", "Counts of items"
	case verbObjects[w2]:
		return formVerb
	case verbs:
		return formVerb
	case determiners[w2] || w2 == "to":
		return formSeparate // "Orders to ship" or "Ships the order"?
	}
	return formNoun // "Seconds between two reports", "Labels"
}

// isSentence reports whether doc is a whole sentence rather than a
// phrase: an auxiliary verb follows the few words of the noun phrase it
// starts with ("This route is deprecated", "The order has shipped").
func isSentence(doc string) bool {
	ws := strings.Fields(strings.ToLower(doc))
	for i, w := range ws {
		if i > 4 {
			break
		}
		word := strings.TrimRight(w, ",;:.!?")
		if i > 0 && auxiliaries[word] {
			return true
		}
		if (i > 0 && phraseEnds[word]) || word != w {
			break
		}
	}
	return false
}

// plural reports whether w ends like a plural noun or a verb in the third
// person.
func plural(w string) bool { return strings.HasSuffix(w, "s") }

// nounInS reports whether a word in -s is a noun, not a verb in the third
// person: statistics, address, status, analysis, various.
func nounInS(w string) bool {
	for _, suffix := range []string{"ss", "us", "is", "ics", "ous"} {
		if strings.HasSuffix(w, suffix) {
			return true
		}
	}
	return false
}

// thirdPerson conjugates the verb that starts doc in the third person
// singular: "Get the order" -> "gets the order", "Carry" -> "carries".
func thirdPerson(doc string) string {
	verb, rest, _ := strings.Cut(doc, " ")
	v := strings.TrimRight(strings.ToLower(verb), ",;:.!?")
	punct := verb[len(v):]
	switch {
	case v == "be":
		v = "is"
	case v == "have":
		v = "has"
	case strings.HasSuffix(v, "y") && len(v) > 1 && !strings.ContainsRune("aeiou", rune(v[len(v)-2])):
		v = v[:len(v)-1] + "ies"
	case strings.HasSuffix(v, "s") || strings.HasSuffix(v, "x") || strings.HasSuffix(v, "z") ||
		strings.HasSuffix(v, "ch") || strings.HasSuffix(v, "sh") || strings.HasSuffix(v, "o"):
		v += "es"
	default:
		v += "s"
	}
	if rest == "" {
		return v + punct
	}
	return v + punct + " " + rest
}

// lowerDoc lower-cases the first letter of a doc so it can follow a Go
// name, unless the first word is an acronym ("UTF-8 text").
func lowerDoc(doc string) string {
	r, n := utf8.DecodeRuneInString(doc)
	if r2, _ := utf8.DecodeRuneInString(doc[n:]); unicode.IsUpper(r2) {
		return doc
	}
	return string(unicode.ToLower(r)) + doc[n:]
}

// attach makes the doc comment of name from a schema doc: the doc itself
// when it already starts with the name (or with alias, its schema
// spelling), else the doc attached to the name as classify reads it, else
// the neutral sentence name+" "+fallback followed by the doc. A doc that
// starts with "Deprecated:" becomes a paragraph of its own, as Go tools
// want it.
func attach(name, alias, doc, fallback string, verbs bool) string {
	if doc == "" {
		return name + " " + fallback
	}
	if strings.HasPrefix(doc, name+" ") || (alias != "" && strings.HasPrefix(doc, alias+" ")) {
		return doc
	}
	doc = sentence(doc)
	if strings.HasPrefix(doc, "Deprecated: ") {
		return name + " " + fallback + "\n\n" + doc
	}
	switch classify(doc, verbs) {
	case formNoun:
		return name + " is " + lowerDoc(doc)
	case formVerb:
		return name + " " + lowerDoc(doc)
	case formImperative:
		return name + " " + thirdPerson(doc)
	case formWhether:
		return name + " reports " + lowerDoc(doc)
	}
	return name + " " + fallback + "\n" + doc
}

// sentence ends doc with a full stop, unless it already ends a sentence
// (or introduces what follows, with a colon).
func sentence(doc string) string {
	if doc == "" || strings.ContainsRune(".!?:", rune(doc[len(doc)-1])) {
		return doc
	}
	return doc + "."
}

// nounDoc is the doc comment of a type, field, entry or package: its doc
// is usually a noun phrase ("A chat message" makes "Message is a chat
// message"). Without a doc, fallback follows the name.
func nounDoc(goName, schemaName, doc, fallback string) string {
	return attach(goName, schemaName, doc, fallback, false)
}

// methodDoc is the doc of a route method: route docs are verb phrases
// ("Logs the connection in ..." makes "Login logs the connection in ...").
func methodDoc(r *Route) string {
	fallback := fmt.Sprintf("serves %s %q (%s).", sideWord(r.Side.Client), r.Name, r.Interaction)
	return attach(r.GoName, "", r.Doc, fallback, true)
}
