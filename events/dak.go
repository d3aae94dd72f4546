package events

// Upload is dak.package.upload: dak accepted an upload into the archive.
type Upload struct {
	Common
	Source          string   `json:"source"`
	Version         string   `json:"version"`
	Distribution    []string `json:"distribution"`
	Architecture    []string `json:"architecture"`
	Binary          []string `json:"binary"`
	ChangedBy       string   `json:"changed_by"`
	ChangedByEmail  *string  `json:"changed_by_email,omitempty"`
	Maintainer      string   `json:"maintainer"`
	MaintainerEmail *string  `json:"maintainer_email,omitempty"`
	Urgency         string   `json:"urgency"`
	// Date is the .changes' Date, RFC 3339.
	Date          string    `json:"date"`
	Closes        []int     `json:"closes"`
	Changes       string    `json:"changes"`
	Files         []File    `json:"files"`
	ChecksumsSHA1 []SHA1    `json:"checksums_sha1,omitempty"`
	SHA256        []SHA256  `json:"sha256"`
	Signature     Signature `json:"signature"`
	ChangesFile   *string   `json:"changes_file,omitempty"`
	Format        string    `json:"format,omitempty"`
	HasChanges    *bool     `json:"has_changes,omitempty"`
	NMU           *bool     `json:"nmu,omitempty"`
	Program       *string   `json:"program,omitempty"`
	SourceOnly    *bool     `json:"source_only,omitempty"`
	Suite         *string   `json:"suite,omitempty"`
}

// Policy is dak.package.policy: an upload accepted into a policy queue
// (Queue). It carries what an Upload carries where the mail has it.
type Policy struct {
	Upload
	Queue string `json:"queue"`
}

// File is one entry of an upload's Files field.
type File struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Section  string `json:"section,omitempty"`
	Priority string `json:"priority,omitempty"`
	MD5Sum   string `json:"md5sum"`
}

// SHA1 is one Checksums-Sha1 entry.
type SHA1 struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	SHA1 string `json:"sha1"`
}

// SHA256 is one Checksums-Sha256 entry.
type SHA256 struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Signature is the OpenPGP signature of an upload's .changes.
type Signature struct {
	Present     bool    `json:"present"`
	Fingerprint *string `json:"fingerprint"`
	KeyID       *string `json:"key_id,omitempty"`
	// Valid is nil when no upload keyring was configured.
	Valid   *bool   `json:"valid"`
	Keyring *string `json:"keyring"`
}

// New is dak.package.new: an upload went into NEW (State "new") or was
// accepted from it ("accepted").
type New struct {
	Common
	Source       string   `json:"source"`
	Version      string   `json:"version"`
	Distribution []string `json:"distribution"`
	Architecture []string `json:"architecture,omitempty"`
	ChangesFile  *string  `json:"changes_file,omitempty"`
	Program      string   `json:"program,omitempty"`
	State        string   `json:"state,omitempty"`
}

// Reject is dak.package.reject: dak rejected an upload.
type Reject struct {
	Common
	Source  string `json:"source"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
	// Rejection is "automatic", "manual" or "unknown".
	Rejection    string   `json:"rejection"`
	Architecture []string `json:"architecture,omitempty"`
	ChangesFile  string   `json:"changes_file,omitempty"`
	Program      *string  `json:"program,omitempty"`
}

// Remove is dak.package.remove: packages removed from a suite.
type Remove struct {
	Common
	Suite    string           `json:"suite"`
	Suites   []string         `json:"suites,omitempty"`
	Packages []RemovedPackage `json:"packages"`
	Sources  []string         `json:"sources,omitempty"`
	Reason   string           `json:"reason"`
	Closes   []int            `json:"closes"`
	Program  string           `json:"program,omitempty"`
}

// RemovedPackage is one package a removal names.
type RemovedPackage struct {
	Name          string   `json:"name"`
	Version       string   `json:"version"`
	Architectures []string `json:"architectures"`
}

// Receive is dak.package.receive: the upload queue received an upload.
type Receive struct {
	Common
	ChangesFile  string   `json:"changes_file"`
	Source       string   `json:"source"`
	Version      string   `json:"version"`
	Architecture []string `json:"architecture,omitempty"`
	Files        []string `json:"files,omitempty"`
	QueueHost    string   `json:"queue_host,omitempty"`
	Success      *bool    `json:"success,omitempty"`
}

// DakOther is dak.package.other: any other mail with dak's headers.
type DakOther struct {
	Common
	Subject     string `json:"subject"`
	Source      string `json:"source,omitempty"`
	Version     string `json:"version,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Bug         int    `json:"bug,omitempty"`
	ChangesFile string `json:"changes_file,omitempty"`
	Program     string `json:"program,omitempty"`
}
