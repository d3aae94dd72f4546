package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/spool"
)

const spoolHelp = `usage: mailgw spool [--config FILE] list
       mailgw spool [--config FILE] show ID
       mailgw spool [--config FILE] requeue ID...
       mailgw spool [--config FILE] requeue --all

list     the mail waiting in the spool (new/) and the quarantined mail, each
         quarantined one with its reason
show     a quarantined (or still spooled) mail: its reason file, a blank
         line, then the mail as received
requeue  move quarantined mail back into the spool; a running 'mailgw
         serve' processes it at once (for example after a parser fix)

Exit status: 0 done, 1 an ID was not found or could not be moved, 64 usage
error, 75 the spool is missing or unreadable, 78 bad config.
`

// cmdSpool runs "mailgw spool list|show|requeue": the operator's view of
// the spool and the quarantine. Exit status 0 done, 1 an ID failed, 64
// usage, 75 spool unusable, 78 bad config.
func cmdSpool(args []string) int {
	fs := flag.NewFlagSet("spool", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, spoolHelp) }
	cfgPath := fs.String("config", "", "config `FILE`")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(os.Stderr, spoolHelp)
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw spool: %v\n", err)
		return exitConfig
	}
	sp, err := openSpool(cfg, false)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw spool: %v\n", err)
		return exitTempFail
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	sub, rest := fs.Arg(0), fs.Args()[1:]
	switch sub {
	case "list":
		if len(rest) != 0 {
			return spoolUsage("list takes no arguments")
		}
		return spoolList(out, sp)
	case "show":
		if len(rest) != 1 {
			return spoolUsage("show takes one ID")
		}
		return spoolShow(out, sp, rest[0])
	case "requeue":
		return spoolRequeue(out, sp, rest)
	}
	return spoolUsage(fmt.Sprintf("unknown subcommand %q", sub))
}

func spoolUsage(msg string) int {
	fmt.Fprintf(os.Stderr, "mailgw spool: %s\n\n%s", msg, spoolHelp)
	return exitUsage
}

func spoolList(out *bufio.Writer, sp *spool.Spool) int {
	pending, err := sp.Pending()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw spool: %v\n", err)
		return exitTempFail
	}
	fmt.Fprintf(out, "spooled (%s): %d\n", filepath.Join(sp.Dir(), "new"), len(pending))
	for _, n := range pending {
		fmt.Fprintf(out, "  %s\n", n)
	}
	q, err := sp.List()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw spool: %v\n", err)
		return exitTempFail
	}
	fmt.Fprintf(out, "quarantined (%s): %d\n", sp.QuarantineDir, len(q))
	for _, e := range q {
		fmt.Fprintf(out, "  %s  %s  %d bytes\n    %s\n", e.Name, e.Time.UTC().Format(time.RFC3339), e.Size, e.Reason)
	}
	return exitOK
}

func spoolShow(out *bufio.Writer, sp *spool.Spool, id string) int {
	reason, mail, err := sp.Show(id)
	if os.IsNotExist(err) {
		// Not quarantined: perhaps still waiting in the spool.
		if raw, err2 := sp.Read(id); err2 == nil {
			fmt.Fprintf(out, "state: spooled, waiting to be processed\n\n")
			out.Write(raw)
			return exitOK
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw spool: show %s: %v\n", id, err)
		return exitFailure
	}
	fmt.Fprintf(out, "%s\n", reason)
	out.Write(mail)
	return exitOK
}

func spoolRequeue(out *bufio.Writer, sp *spool.Spool, args []string) int {
	fs := flag.NewFlagSet("spool requeue", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, spoolHelp) }
	all := fs.Bool("all", false, "requeue every quarantined mail")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *all == (fs.NArg() > 0) {
		return spoolUsage("requeue takes IDs or --all")
	}
	if *all {
		n, err := sp.RequeueAll()
		fmt.Fprintf(out, "requeued %d\n", n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mailgw spool: requeue: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	code := exitOK
	for _, id := range fs.Args() {
		if err := sp.Requeue(id); err != nil {
			fmt.Fprintf(os.Stderr, "mailgw spool: requeue %s: %v\n", id, err)
			code = exitFailure
			continue
		}
		fmt.Fprintf(out, "requeued %s\n", id)
	}
	return code
}
