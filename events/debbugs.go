package events

// Bug is what every debbugs event says of its bug.
type Bug struct {
	Bug      int      `json:"bug"`
	Packages []string `json:"packages"`
	Sources  []string `json:"sources"`
	Title    string   `json:"title"`
}

// BugReport is debbugs.bug.report: a new bug report.
type BugReport struct {
	Common
	Bug
	Submitter      string   `json:"submitter"`
	SubmitterEmail *string  `json:"submitter_email,omitempty"`
	Severity       string   `json:"severity"`
	Tags           []string `json:"tags"`
	Version        string   `json:"version,omitempty"`
	Body           string   `json:"body"`
}

// BugFollowup is debbugs.bug.followup: a mail to an open bug.
type BugFollowup struct {
	Common
	Bug
	From      string   `json:"from"`
	FromEmail *string  `json:"from_email,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Body      string   `json:"body"`
}

// BugClose is debbugs.bug.close: a bug was closed.
type BugClose struct {
	Common
	Bug
	Bugs             []int   `json:"bugs,omitempty"`
	ClosedBy         string  `json:"closed_by,omitempty"`
	ClosedByEmail    *string `json:"closed_by_email,omitempty"`
	FixedVersion     string  `json:"fixed_version,omitempty"`
	FixedSource      string  `json:"fixed_source,omitempty"`
	ClosingMessageID string  `json:"closing_message_id,omitempty"`
	ClosingSubject   string  `json:"closing_subject,omitempty"`
	Variant          string  `json:"variant,omitempty"`
}

// BugControl is debbugs.bug.control: a control transcript.
type BugControl struct {
	Common
	Bugs       []int           `json:"bugs"`
	Actions    []ControlAction `json:"actions"`
	Errors     []string        `json:"errors,omitempty"`
	ErrorCount *int            `json:"error_count,omitempty"`
	Packages   []string        `json:"packages,omitempty"`
	Sources    []string        `json:"sources,omitempty"`
	Title      string          `json:"title,omitempty"`
	To         string          `json:"to,omitempty"`
	ToEmail    []string        `json:"to_email,omitempty"`
}

// ControlAction is one command of a control transcript.
type ControlAction struct {
	Command string   `json:"command"`
	Bugs    []int    `json:"bugs"`
	Args    []string `json:"args"`
	// Error is debbugs' answer when the command failed.
	Error string `json:"error,omitempty"`
}

// BugAck is debbugs.bug.ack: debbugs acknowledged a mail.
type BugAck struct {
	Common
	Bug
	Variant string   `json:"variant"`
	To      string   `json:"to,omitempty"`
	ToEmail []string `json:"to_email,omitempty"`
}

// BugForwarded is debbugs.bug.forwarded: a bug forwarded upstream.
type BugForwarded struct {
	Common
	Bug
	ForwardedTo string `json:"forwarded_to,omitempty"`
}

// BugSubmitterChanged is debbugs.bug.submitter-changed.
type BugSubmitterChanged struct {
	Common
	Bug
	NewSubmitter      string  `json:"new_submitter,omitempty"`
	NewSubmitterEmail *string `json:"new_submitter_email,omitempty"`
	OldSubmitter      string  `json:"old_submitter,omitempty"`
	OldSubmitterEmail *string `json:"old_submitter_email,omitempty"`
}

// BugError is debbugs.bug.error: debbugs refused a mail.
type BugError struct {
	Common
	Bug      int      `json:"bug,omitempty"`
	Error    string   `json:"error"`
	Subject  string   `json:"subject,omitempty"`
	Packages []string `json:"packages,omitempty"`
	Sources  []string `json:"sources,omitempty"`
	Title    string   `json:"title,omitempty"`
}
