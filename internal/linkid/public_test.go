package linkid_test

import (
	"reflect"
	"testing"

	"github.com/lanyard/lanyard"
	"github.com/lanyard/lanyard/internal/linkid"
)

// What the service hands its callers (httpapi among them) never holds a
// lanyard.LinkedID, whose lookup hash and ciphertext stay in the package: links come
// out as Public.
func TestService_HandsOutNoLinkedIDWithItsHashOrCiphertext(t *testing.T) {
	t.Parallel()
	secret := reflect.TypeFor[lanyard.LinkedID]()
	svc := reflect.TypeFor[*linkid.Service]()
	for i := range svc.NumMethod() {
		m := svc.Method(i)
		for j := range m.Type.NumOut() {
			if out := m.Type.Out(j); holds(out, secret, map[reflect.Type]bool{}) {
				t.Errorf("(*linkid.Service).%s returns a %v, which holds a %v", m.Name, out, secret)
			}
		}
	}
}

// holds reports whether a value of type t can hold a value of type secret.
func holds(t, secret reflect.Type, seen map[reflect.Type]bool) bool {
	if t == secret {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
		return holds(t.Elem(), secret, seen)
	case reflect.Map:
		return holds(t.Key(), secret, seen) || holds(t.Elem(), secret, seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if holds(t.Field(i).Type, secret, seen) {
				return true
			}
		}
	case reflect.Func:
		for i := range t.NumOut() {
			if holds(t.Out(i), secret, seen) {
				return true
			}
		}
	}
	return false
}
