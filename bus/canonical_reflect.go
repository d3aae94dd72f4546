package bus

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

var marshalerType = reflect.TypeFor[json.Marshaler]()

// appendReflect encodes the values appendValue has no fast path for.
func appendReflect(b []byte, v any, d int) ([]byte, error) {
	return appendRV(b, reflect.ValueOf(v), d)
}

func appendRV(b []byte, rv reflect.Value, d int) ([]byte, error) {
	if d > maxDepth {
		return b, &CanonicalError{Reason: "nested too deeply (a cycle?)"}
	}
	if !rv.IsValid() {
		return append(b, "null"...), nil
	}
	if rv.CanInterface() && rv.Type().Implements(marshalerType) {
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return append(b, "null"...), nil
		}
		return appendMarshaler(b, rv.Interface().(json.Marshaler), d)
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
		if rv.CanInterface() {
			return appendValue(b, rv.Elem().Interface(), d+1)
		}
		return appendRV(b, rv.Elem(), d+1)
	case reflect.Bool:
		return appendValue(b, rv.Bool(), d)
	case reflect.String:
		if rv.Type() == reflect.TypeFor[json.Number]() {
			return appendNumber(b, json.Number(rv.String()))
		}
		return appendString(b, rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(b, rv.Float())
	case reflect.Slice:
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return b, &CanonicalError{Reason: "byte slice not allowed (use a string)"}
		}
		return appendList(b, rv, d)
	case reflect.Array:
		return appendList(b, rv, d)
	case reflect.Map:
		return appendReflectMap(b, rv, d)
	case reflect.Struct:
		return appendStruct(b, rv, d)
	}
	return b, &CanonicalError{Reason: "unsupported type " + rv.Type().String()}
}

func appendList(b []byte, rv reflect.Value, d int) ([]byte, error) {
	b = append(b, '[')
	for i := range rv.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendRV(b, rv.Index(i), d+1); err != nil {
			return b, atIndex(err, i)
		}
	}
	return append(b, ']'), nil
}

func appendReflectMap(b []byte, rv reflect.Value, d int) ([]byte, error) {
	if rv.Type().Key().Kind() != reflect.String {
		return b, &CanonicalError{Reason: "map key type " + rv.Type().Key().String() + " not allowed (keys must be strings)"}
	}
	if rv.IsNil() {
		return append(b, "null"...), nil
	}
	m := make(map[string]any, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		m[it.Key().String()] = it.Value().Interface()
	}
	return appendMapAny(b, m, d)
}

// appendMarshaler re-encodes a json.Marshaler's output canonically.
func appendMarshaler(b []byte, m json.Marshaler, d int) ([]byte, error) {
	raw, err := m.MarshalJSON()
	if err != nil {
		return b, &CanonicalError{Reason: "MarshalJSON: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return b, &CanonicalError{Reason: "MarshalJSON output: " + err.Error()}
	}
	return appendValue(b, v, d)
}

// structField is one JSON-visible field of a struct type.
type structField struct {
	name      string
	index     []int
	omitEmpty bool
}

var structFields sync.Map // reflect.Type -> []structField, sorted by name

// fieldsOf lists t's JSON fields as encoding/json names them (tag name or
// field name, "-" skipped, untagged embedded structs flattened; the
// shallowest field wins a name clash), sorted by name.
func fieldsOf(t reflect.Type) []structField {
	if f, ok := structFields.Load(t); ok {
		return f.([]structField)
	}
	var out []structField
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		if depth > 8 {
			return
		}
		var embedded []reflect.StructField
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				f.Index = append(slices.Clone(index), i)
				embedded = append(embedded, f)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			out = append(out, structField{name, append(slices.Clone(index), i), strings.Contains(","+opts+",", ",omitempty,")})
		}
		for _, f := range embedded {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			walk(ft, f.Index, depth+1)
		}
	}
	walk(t, nil, 0)
	slices.SortFunc(out, func(a, b structField) int { return strings.Compare(a.name, b.name) })
	structFields.Store(t, out)
	return out
}

func appendStruct(b []byte, rv reflect.Value, d int) ([]byte, error) {
	b = append(b, '{')
	first := true
	for _, f := range fieldsOf(rv.Type()) {
		fv, ok := fieldByIndex(rv, f.index)
		if !ok || (f.omitEmpty && isEmpty(fv)) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, f.name)
		b = append(b, ':')
		var err error
		if b, err = appendRV(b, fv, d+1); err != nil {
			return b, atKey(err, f.name)
		}
	}
	return append(b, '}'), nil
}

// fieldByIndex is reflect's FieldByIndex that reports a nil embedded
// pointer instead of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
