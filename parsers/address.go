package parsers

import (
	"net/mail"
	"strings"
)

// Address reads an address field value (a decoded From header, a .changes
// Maintainer, a "Done:" pseudo-header) as one person: display is
// "Name <addr>" with the name decoded and unquoted ("Marco M. F. De
// Santis <m@example.org>", not "\"Marco M. F. De Santis\" <…>"; a comment
// name "addr (Name)" counts as the name), or the bare address when there is
// no name, or the trimmed value itself when no address can be found in it;
// email is the bare address lower-cased, "" when there is none. Of several
// addresses, the first is the person.
func Address(v string) (display, email string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", ""
	}
	// The usual forms need no parser (net/mail costs a dozen allocations
	// an address): Name <addr> with a plain name, which is its own display
	// form when spaced as that is; "Name" <addr>; addr (Name).
	if lt := strings.LastIndexByte(v, '<'); lt >= 0 && v[len(v)-1] == '>' {
		name, addr := strings.TrimSpace(v[:lt]), v[lt+1:len(v)-1]
		if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
			name = name[1 : len(name)-1]
		}
		if plainName(name) && plainAddr(addr) {
			if name == "" {
				return addr, strings.ToLower(addr)
			}
			if lt == len(name)+1 && v[len(name)] == ' ' {
				return v, strings.ToLower(addr)
			}
			return name + " <" + addr + ">", strings.ToLower(addr)
		}
	} else if sp := strings.Index(v, " ("); sp > 0 && v[len(v)-1] == ')' {
		addr, name := v[:sp], strings.TrimSpace(v[sp+2:len(v)-1])
		if plainName(name) && plainAddr(addr) {
			return joinAddress(name, addr), strings.ToLower(addr)
		}
	}
	a, err := mail.ParseAddress(v)
	if err != nil {
		list, lerr := mail.ParseAddressList(v)
		if lerr != nil || len(list) == 0 {
			return looseAddress(v)
		}
		a = list[0]
	}
	return joinAddress(a.Name, a.Address), strings.ToLower(a.Address)
}

// AddressList is Address for a field that may hold several addresses (a
// To header): the display forms joined by ", ", and each bare address,
// lower-cased. A value no parser reads is one entry.
func AddressList(v string) (display string, emails []string) {
	if !strings.Contains(v, ",") { // one address: Address's fast paths
		d, e := Address(v)
		if e == "" {
			return d, []string{}
		}
		return d, []string{e}
	}
	list, err := mail.ParseAddressList(v)
	if err != nil || len(list) == 0 {
		d, e := Address(v)
		if e == "" {
			return d, []string{}
		}
		return d, []string{e}
	}
	parts := make([]string, len(list))
	emails = make([]string, len(list))
	for i, a := range list {
		parts[i], emails[i] = joinAddress(a.Name, a.Address), strings.ToLower(a.Address)
	}
	return strings.Join(parts, ", "), emails
}

// PutAddress sets payload[key] to the display form of the address field
// value v and payload[key+"_email"] to its bare address (nil when v has
// none), as every mailgw payload writes a person.
func PutAddress(payload map[string]any, key, v string) {
	d, e := Address(v)
	payload[key] = d
	if e == "" {
		payload[key+"_email"] = nil
	} else {
		payload[key+"_email"] = e
	}
}

// joinAddress is the display form of a parsed address.
func joinAddress(name, addr string) string {
	if name == "" {
		return addr
	}
	return name + " <" + addr + ">"
}

// plainName reports whether a display name needs no unquoting or
// decoding: no quotes, comments, angle brackets or encoded words.
func plainName(s string) bool {
	return !strings.ContainsAny(s, "\"()<>\\") && !strings.Contains(s, "=?")
}

// plainAddr reports whether s looks like local@domain with nothing to
// strip.
func plainAddr(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t<>\"(),;")
}

// looseAddress reads what net/mail refuses (real mail has unquoted
// specials, stray brackets and bare names): the text in the last <…> with
// an @ is the address and what precedes it the name, quotes taken off; a
// lone word with an @ is an address; anything else is a name alone.
func looseAddress(v string) (string, string) {
	if lt := strings.LastIndexByte(v, '<'); lt >= 0 {
		if gt := strings.IndexByte(v[lt:], '>'); gt > 0 {
			addr := strings.TrimSpace(v[lt+1 : lt+gt])
			if strings.Contains(addr, "@") && !strings.ContainsAny(addr, " \t") {
				name := strings.TrimSpace(v[:lt])
				if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
					name = strings.ReplaceAll(name[1:len(name)-1], `\"`, `"`)
				}
				return joinAddress(strings.TrimSpace(name), addr), strings.ToLower(addr)
			}
		}
	}
	if !strings.ContainsAny(v, " \t<>\"") && strings.Count(v, "@") == 1 && v[0] != '@' && v[len(v)-1] != '@' {
		return v, strings.ToLower(v)
	}
	return v, ""
}
