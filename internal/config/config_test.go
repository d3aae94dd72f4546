package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The example file documents every key with its default: loading it must
// give exactly the defaults.
func TestExampleIsDefaults(t *testing.T) {
	got, err := Load("../../etc/mailgw.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.fill()
	// Empty lists in the example decode as empty, not nil.
	got.SRVEndpoints, got.Keyrings, got.UploadKeyrings, got.SMTP.AllowedRecipients = nil, nil, nil, nil
	if got.RoutingPolicy != nil && len(got.RoutingPolicy) == 0 {
		got.RoutingPolicy = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example config differs from Defaults:\n got %+v\nwant %+v", got, want)
	}
}

// Every key of Config appears in the example file.
func TestExampleDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../etc/mailgw.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range tomlKeys(reflect.TypeOf(Config{})) {
		if !strings.Contains(string(b), key) {
			t.Errorf("etc/mailgw.toml does not mention %q", key)
		}
	}
}

func tomlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		k := f.Tag.Get("toml")
		if k == "" {
			continue
		}
		keys = append(keys, k)
		if f.Type.Kind() == reflect.Struct && f.Type.Name() != "Duration" {
			keys = append(keys, tomlKeys(f.Type)...)
		}
	}
	return keys
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown key":  "topic_prefx = \"x\"\n",
		"bad hwm":      "high_water_mark = 0\n",
		"bad format":   "[log]\nformat = \"xml\"\n",
		"tls half":     "[smtp]\ntls_cert = \"c\"\n",
		"bad duration": "[smtp]\nread_timeout = \"soon\"\n",
		"syntax":       "topic_prefix = \n",
		"amqp no url":  "[amqp]\nenabled = true\n",
		"amqp scheme":  "[amqp]\nurl = \"http://localhost/\"\n",
		"amqp tls":     "[amqp]\nurl = \"amqp://localhost/\"\nca_cert = \"ca.pem\"\n",
		"amqp cert":    "[amqp]\nurl = \"amqps://localhost/\"\ncertfile = \"c.pem\"\n",
		"amqp exch":    "[amqp]\nexchange = \"\"\n",
		"amqp start":   "[amqp]\nstart = \"now\"\n",
		"amqp badurl":  "[amqp]\nurl = \"amqp://u:s3cret@host:port/\"\n",
	}
	for name, body := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: Load accepted %q", name, body)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error %q shows the password", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("missing file accepted")
	}
}
