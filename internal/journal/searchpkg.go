package journal

import "fmt"

// notPackages returns the condition that the envelope of table alias a,
// whose packages column is pcol, has none of NotPackages ("" when there
// are none): in the package index, or in the packages column of the tail
// (pkgindex.go).
func (s *search) notPackages(a, pcol string) (string, []any, error) {
	if len(s.q.NotPackages) == 0 {
		return "", nil, nil
	}
	through, _, err := s.j.packageTail()
	if err != nil {
		return "", nil, err
	}
	tail, targs := hasPackage(pcol, s.q.NotPackages)
	cond := " AND NOT (" + a + ".seq_id > ? AND " + tail + ")"
	args := append([]any{through}, targs...)
	ids, err := s.j.lookupPackages(s.q.NotPackages)
	if err != nil || len(ids) == 0 {
		return cond, args, err
	}
	in, iargs := idList(ids)
	return cond + " AND NOT EXISTS (SELECT 1 FROM env_packages x WHERE x.package_id IN " + in +
		" AND x.timestamp = " + a + ".timestamp AND x.seq_id = " + a + ".seq_id)", append(args, iargs...), nil
}

// byPackage answers a query with Packages: the package index (and the
// tail after it) drives.
func (s *search) byPackage() error {
	q := s.q
	through, behind, err := s.j.packageTail()
	if err != nil {
		return err
	}
	if behind > int64(q.MaxScan) {
		return &CostError{"package", fmt.Sprintf("the package index is being built (%d events to go, more than %d to read one by one); ask again in a moment", behind, q.MaxScan)}
	}
	pids, err := s.j.lookupPackages(q.Packages)
	if err != nil {
		return err
	}
	if len(q.NotPackages) == 0 && len(q.Contains) == 0 {
		return s.byPackageIndex(pids, through, behind)
	}
	tail, targs := hasPackage("packages", q.Packages)
	// p: the envelopes with one of the packages, from the index and the
	// tail, with their packages column for NotPackages (NULL from the
	// index, which NotPackages' index lookup covers).
	src := `SELECT timestamp, seq_id, topic_id, packages FROM envelopes WHERE seq_id > ? AND timestamp BETWEEN ? AND ? AND ` + tail
	args := append([]any{through, q.From, q.To}, targs...)
	if len(pids) > 0 {
		in, pargs := idList(pids)
		var n int64
		cargs := append(append([]any{}, pargs...), q.From, q.To, q.MaxScan+1)
		if err := s.j.db.QueryRow(`SELECT COUNT(*) FROM (SELECT 1 FROM env_packages WHERE package_id IN `+in+
			` AND timestamp BETWEEN ? AND ? LIMIT ?)`, cargs...).Scan(&n); err != nil {
			return err
		}
		if n+behind > int64(q.MaxScan) {
			return &CostError{"package", fmt.Sprintf("these packages have more than %d events in the window; narrow it with start, end or delta", q.MaxScan)}
		}
		src = `SELECT DISTINCT timestamp, seq_id, topic_id, NULL AS packages FROM env_packages WHERE package_id IN ` + in +
			` AND timestamp BETWEEN ? AND ? UNION ALL ` + src
		args = append(append(pargs, q.From, q.To), args...)
	}
	return s.filtered(` FROM (`+src+`) p WHERE 1`, args, "p", "p.packages")
}

// byPackageIndex answers a query with Packages and no NotPackages or
// Contains straight from the package index, whose order is the query's:
// the total is an index count, the page the first rows of each package's
// range merged (with the tail's, read apart). Through one statement over
// the index and the tail together, SQLite sorted every match, and a
// package with 20,000 events took 60 ms (bench/websearch).
func (s *search) byPackageIndex(pids []int64, through, behind int64) error {
	q := s.q
	want := q.Offset + q.Limit
	topic, targs := "", []any(nil)
	if s.constrained {
		var tin string
		tin, targs = idList(s.topicIDs())
		topic = ` AND topic_id IN ` + tin
	}
	var indexed int64
	if len(pids) > 0 {
		in, pargs := idList(pids)
		// The rows the count reads, before the topic filter: bounded.
		var n int64
		if err := s.j.db.QueryRow(`SELECT COUNT(*) FROM (SELECT 1 FROM env_packages WHERE package_id IN `+in+
			` AND timestamp BETWEEN ? AND ? LIMIT ?)`, append(pargs, q.From, q.To, q.MaxScan+1)...).Scan(&n); err != nil {
			return err
		}
		if n+behind > int64(q.MaxScan) {
			return &CostError{"package", fmt.Sprintf("these packages have more than %d events in the window; narrow it with start, end or delta", q.MaxScan)}
		}
		if len(pids)*want > q.MaxScan {
			return s.tooDeep()
		}
		switch {
		case len(pids) == 1 && !s.constrained:
			indexed = n
		default:
			count := `COUNT(*)`
			if len(pids) > 1 { // an event with two of the packages counts once
				count = `COUNT(DISTINCT seq_id)`
			}
			if err := s.j.db.QueryRow(`SELECT `+count+` FROM env_packages WHERE package_id IN `+in+
				` AND timestamp BETWEEN ? AND ?`+topic, append(append(pargs, q.From, q.To), targs...)...).Scan(&indexed); err != nil {
				return err
			}
		}
	}
	// The tail: the rows the index has not taken in yet.
	cond, cargs := hasPackage("packages", q.Packages)
	tail, err := s.keys(`SELECT timestamp, seq_id FROM envelopes e WHERE seq_id > ? AND timestamp BETWEEN ? AND ? AND `+cond+topic+s.order("e"),
		append(append([]any{through, q.From, q.To}, cargs...), targs...)...)
	if err != nil {
		return err
	}
	s.f.Total = indexed + int64(len(tail))
	if int64(q.Offset) >= s.f.Total || q.Limit == 0 {
		return nil
	}
	h := &keyHeap{desc: q.Desc}
	if len(tail) > 0 {
		h.runs = append(h.runs, tail)
	}
	for _, pid := range pids {
		ks, err := s.keys(`SELECT timestamp, seq_id FROM env_packages e WHERE package_id = ? AND timestamp BETWEEN ? AND ?`+topic+
			s.order("e")+` LIMIT ?`, append(append([]any{pid, q.From, q.To}, targs...), want)...)
		if err != nil {
			return err
		}
		if len(ks) > 0 {
			h.runs = append(h.runs, ks)
		}
	}
	keys := h.mergeDistinct(want)
	return s.load(keys[min(q.Offset, len(keys)):])
}
