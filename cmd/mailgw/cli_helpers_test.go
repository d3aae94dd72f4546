package main

import (
	"context"
	"io"
	"strings"
)

// runTail runs "mailgw tail ARGS" in-process with its outputs given.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, append([]string{"tail"}, args...), strings.NewReader(""), stdout, stderr)
}

// runPublish runs "mailgw publish ARGS" in-process with its input and
// error output given.
func runPublish(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) int {
	return execute(ctx, append([]string{"publish"}, args...), stdin, io.Discard, stderr)
}
