package parsers_test

import (
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

// goldenClassifier is the classifier the golden files were made with: the
// wiring of cmd/mailgw, with the debmessenger compatibility events on.
func goldenClassifier() *parsers.Classifier {
	d := dak.New(dak.Options{Compat: true})
	b := debbugs.New(debbugs.Options{Compat: true})
	return parsers.NewClassifier(pts.New(d, b), d, b)
}
