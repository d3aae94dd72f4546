package zmtp_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// A PUB socket listens on a loopback TCP endpoint, a SUB socket connects
// to it, both shake hands, and the PUB side sends one two-frame fedmsg
// message (topic, body).
func Example() {
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		pub, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer pub.Close()
		peer, err := zmtp.Handshake(pub, bufio.NewReader(pub), zmtp.Pub, true, 5*time.Second)
		if err == nil && peer.Type != zmtp.Sub {
			err = fmt.Errorf("peer is %s", peer.Type)
		}
		if err == nil {
			_, err = pub.Write(zmtp.EncodeMessage([]byte("org.debian.dev.dak.package.upload"), []byte(`{"msg":{}}`)))
		}
		done <- err
	}()

	sub, err := zmtp.Dial(context.Background(), zmtp.EndpointOf(ln.Addr()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	r := bufio.NewReader(sub)
	peer, err := zmtp.Handshake(sub, r, zmtp.Sub, false, 5*time.Second)
	if err != nil {
		fmt.Println("handshake:", err)
		return
	}
	frames, cmd, err := zmtp.ReadMessage(r, 1<<20)
	if err != nil || cmd {
		fmt.Println("read:", err, cmd)
		return
	}
	if err := <-done; err != nil {
		fmt.Println("publisher:", err)
		return
	}
	fmt.Println("peer:", peer.Type)
	fmt.Printf("%s\n", bytes.Join(frames, []byte(" | ")))
	// Output:
	// peer: PUB
	// org.debian.dev.dak.package.upload | {"msg":{}}
}
