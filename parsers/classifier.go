package parsers

// Classifier picks the parser for a mail: the first parser, in order, that
// claims it. main wires the parsers explicitly, most specific first
// (PTS/tracker forwards, then dak, then debbugs).
type Classifier struct {
	Parsers []Parser
}

// NewClassifier returns a Classifier that tries ps in order.
func NewClassifier(ps ...Parser) *Classifier {
	return &Classifier{Parsers: ps}
}
