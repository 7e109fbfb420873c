package rsrt

// Payload codecs used by generated code: one encoder and one decoder per
// payload kind (string, bytes, JSON object, empty). Inbound payloads are
// already owned by the receiver, so decoders do not copy.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// DecodeUTF8 checks that b is UTF-8 and returns it as a string.
func DecodeUTF8(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errors.New("not valid UTF-8")
	}
	return string(b), nil
}

// DecodeString decodes a string payload: UTF-8 text, no quotes.
func DecodeString(p *Payload) (string, error) { return DecodeUTF8(p.Data) }

// EncodeString encodes a string payload.
func EncodeString(s string) (Payload, error) { return Payload{Data: []byte(s)}, nil }

// DecodeBytes decodes a bytes payload.
func DecodeBytes(p *Payload) ([]byte, error) { return p.Data, nil }

// EncodeBytes encodes a bytes payload.
func EncodeBytes(b []byte) (Payload, error) { return Payload{Data: b}, nil }

// DecodeEmpty decodes an empty payload. Data sent anyway is ignored, as
// the tutorial's peers do.
func DecodeEmpty(*Payload) (struct{}, error) { return struct{}{}, nil }

// EncodeEmpty encodes an empty payload: no data, no metadata.
func EncodeEmpty(struct{}) (Payload, error) { return Payload{}, nil }

// DecodeJSON decodes a JSON object payload into T. Unknown keys, trailing
// data, invalid UTF-8 and values of the wrong type are errors whose text
// names the field and the expected schema type.
func DecodeJSON[T any](p *Payload) (T, error) {
	var v T
	if !utf8.Valid(p.Data) {
		return v, errors.New("not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(p.Data))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return v, fmt.Errorf("bad JSON: %s", jsonErrorText(err))
	}
	if d.More() {
		return v, errors.New("bad JSON: trailing data after the object")
	}
	return v, nil
}

// EncodeJSON encodes a JSON object payload.
func EncodeJSON[T any](v T) (Payload, error) {
	b, err := json.Marshal(v)
	return Payload{Data: b}, err
}

// jsonErrorText strips encoding/json's Go type names from an error so the
// peer reads schema terms, not our internals.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q: %s is not a valid %s", te.Field, te.Value, jsonKind(te.Type.Kind().String()))
		}
		return fmt.Sprintf("%s where an object was expected", te.Value)
	}
	if errors.Is(err, io.EOF) {
		return "empty data where an object was expected"
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	default:
		return "object"
	}
}
