package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/debian/mailgw/bus"
)

// tailExec runs --exec's command once per message.
type tailExec struct {
	command        string
	timeout        time.Duration
	stdout, stderr io.Writer
	log            *slog.Logger
}

// run runs the command with body (the message as tail --json prints it)
// on its standard input and the message's topic, msg_id and seq_id in
// MAILGW_TOPIC, MAILGW_MSG_ID and MAILGW_SEQ_ID, and waits for it. A
// command that cannot start, fails or overruns the timeout (then its
// process group is killed) is logged; tail goes on with the next message
// either way.
func (x *tailExec) run(ctx context.Context, m bus.Message, body []byte) {
	if x.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", x.command)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Stdout, cmd.Stderr = x.stdout, x.stderr
	cmd.Env = append(os.Environ(),
		"MAILGW_TOPIC="+m.Env.Topic,
		"MAILGW_MSG_ID="+m.Env.MsgID,
		"MAILGW_SEQ_ID="+strconv.FormatInt(m.Env.SeqID, 10))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A child that keeps the output pipes open after the shell ends
	// does not hold tail for longer than this.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	if err == nil {
		return
	}
	attrs := []any{"topic", m.Env.Topic, "msg_id", m.Env.MsgID, "seq_id", m.Env.SeqID, "seconds", time.Since(start).Round(time.Millisecond).Seconds()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		x.log.Warn("tail: --exec command killed after its timeout", append(attrs, "timeout", x.timeout.String())...)
	case errors.As(err, &exit):
		x.log.Warn("tail: --exec command failed", append(attrs, "status", exit.ExitCode())...)
	default:
		x.log.Warn("tail: --exec command did not run", append(attrs, "err", err)...)
	}
}
