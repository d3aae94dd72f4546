package events

import (
	"encoding/json"
	"reflect"
	"strings"
)

// TrackerForward is pts.package.KEYWORD and tracker.package.KEYWORD: a
// mail the package tracker forwarded to a package's subscribers.
type TrackerForward struct {
	Common
	Package         string  `json:"package"`
	Keyword         string  `json:"keyword"`
	OriginalKeyword string  `json:"original_keyword,omitempty"`
	Subject         string  `json:"subject"`
	From            string  `json:"from"`
	FromEmail       *string `json:"from_email,omitempty"`
	Event           *Nested `json:"event,omitempty"`
}

// Nested is the dak or debbugs event of a forwarded mail.
type Nested struct {
	// Topic is its SERVICE.OBJECT.EVENT.
	Topic string `json:"topic"`
	Rule  string `json:"rule"`
	Key   string `json:"key,omitempty"`
	// Payload is its payload, without mail and mailgw.
	Payload json.RawMessage `json:"payload"`
}

// DebmessengerUpload is debmessenger.package.upload: an upload with the
// .changes field names debmessenger used.
type DebmessengerUpload struct {
	Common
	Source          string               `json:"Source"`
	Version         string               `json:"Version"`
	Distribution    string               `json:"Distribution"`
	Architecture    string               `json:"Architecture,omitempty"`
	Binary          string               `json:"Binary,omitempty"`
	ChangedBy       string               `json:"Changed-By,omitempty"`
	Maintainer      string               `json:"Maintainer,omitempty"`
	Urgency         string               `json:"Urgency,omitempty"`
	Date            string               `json:"Date,omitempty"`
	Changes         string               `json:"Changes,omitempty"`
	Closes          string               `json:"Closes,omitempty"`
	Description     string               `json:"Description,omitempty"`
	Format          string               `json:"Format,omitempty"`
	PackageType     string               `json:"Package-Type,omitempty"`
	Files           []DebmessengerFile   `json:"Files,omitempty"`
	ChecksumsSHA1   []DebmessengerSHA1   `json:"Checksums-Sha1,omitempty"`
	ChecksumsSHA256 []DebmessengerSHA256 `json:"Checksums-Sha256,omitempty"`
	// Other holds the other fields of the .changes, which debmessenger
	// passed on as written (decoded and encoded by this package's
	// UnmarshalJSON and MarshalJSON).
	Other map[string]json.RawMessage `json:"-"`
}

// DebmessengerFile is one file of a debmessenger upload's Files; its
// size is a string, as debmessenger sent it.
type DebmessengerFile struct {
	Name     string `json:"name"`
	Size     string `json:"size"`
	Section  string `json:"section,omitempty"`
	Priority string `json:"priority,omitempty"`
	MD5Sum   string `json:"md5sum"`
}

// DebmessengerSHA1 is one Checksums-Sha1 entry of a debmessenger upload.
type DebmessengerSHA1 struct {
	Name string `json:"name"`
	Size string `json:"size"`
	SHA1 string `json:"sha1"`
}

// DebmessengerSHA256 is one Checksums-Sha256 entry of a debmessenger
// upload.
type DebmessengerSHA256 struct {
	Name   string `json:"name"`
	Size   string `json:"size"`
	SHA256 string `json:"sha256"`
}

// debmessengerUpload has DebmessengerUpload's fields without its methods.
type debmessengerUpload DebmessengerUpload

// UnmarshalJSON decodes the named fields and keeps the others in Other.
func (u *DebmessengerUpload) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*debmessengerUpload)(u)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k := range jsonNames(reflect.TypeFor[DebmessengerUpload]()) {
		delete(all, k)
	}
	u.Other = nil
	if len(all) > 0 {
		u.Other = all
	}
	return nil
}

// MarshalJSON encodes the named fields and those of Other.
func (u DebmessengerUpload) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(debmessengerUpload(u))
	if err != nil || len(u.Other) == 0 {
		return b, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range u.Other {
		if _, named := all[k]; !named {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

// jsonNames returns the JSON member names of typ's fields, embedded
// structs' included.
func jsonNames(typ reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range typ.NumField() {
		sf := typ.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case sf.Anonymous:
			for k := range jsonNames(sf.Type) {
				out[k] = true
			}
		case name != "-":
			out[name] = true
		}
	}
	return out
}

// DebmessengerBug is debmessenger.bug.TYPE: a bug mail as debmessenger
// published it.
type DebmessengerBug struct {
	Common
	// From is the From header as debmessenger sent it (decoded, not
	// normalised); Mail.From and Mail.FromEmail have the normalised
	// sender.
	From    string   `json:"from"`
	Source  string   `json:"source"`
	Package string   `json:"package"`
	Tags    []string `json:"tags"`
	Type    string   `json:"type"`
	// Nb is the bug number as a string ("" when none).
	Nb      string   `json:"nb"`
	Title   string   `json:"title"`
	Content string   `json:"content"`
	Patches []string `json:"patches"`
}
