package main

import (
	"fmt"
	"strings"

	"github.com/debian/mailgw/parsers"
)

// authOf returns msg.mail.auth of a message, built (parsers.Object) or
// received (decoded JSON), and whether it has one.
func authOf(msg map[string]any) (map[string]any, bool) {
	var a any
	switch mail := msg["mail"].(type) {
	case parsers.Object:
		a = mail.Get("auth")
	case map[string]any:
		a = mail["auth"]
	}
	switch a := a.(type) {
	case parsers.Object:
		m := make(map[string]any, len(a))
		for _, kv := range a {
			m[kv.Key] = kv.Value
		}
		return m, true
	case map[string]any:
		return a, true
	}
	return nil, false
}

// isTrusted reports whether msg.mail.auth.trusted is true.
func isTrusted(msg map[string]any) bool {
	a, ok := authOf(msg)
	return ok && a["trusted"] == true
}

// trustLine says in words what msg.mail.auth says: "trusted (by …)",
// "UNTRUSTED (dkim: …)" or that the message carries no trust at all.
func trustLine(msg map[string]any) string {
	a, ok := authOf(msg)
	if !ok {
		return "none given (not a mail event, or a debmessenger compatibility event)"
	}
	var sigs []string
	switch l := a["dkim"].(type) {
	case parsers.Objects:
		for _, o := range l {
			sigs = append(sigs, fmt.Sprintf("%v/%v %v", o.Get("domain"), o.Get("selector"), o.Get("result")))
		}
	case []any:
		for _, o := range l {
			if o, ok := o.(map[string]any); ok {
				sigs = append(sigs, fmt.Sprintf("%v/%v %v", o["domain"], o["selector"], o["result"]))
			}
		}
	}
	dkim := "no DKIM signature"
	if len(sigs) > 0 {
		dkim = "DKIM " + strings.Join(sigs, ", ")
	}
	if a["trusted"] == true {
		return fmt.Sprintf("trusted, by %v (%s)", a["by"], dkim)
	}
	return "UNTRUSTED: nothing proves where this mail came from (" + dkim + ")"
}
