package amqpout

import (
	"errors"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestConfirmsClosed: when amqp091 closes the confirms channel (the
// connection died mid-window), the session ends with the broker's reason
// for the close, not with "delivery tag 0 out of order" from the zero
// Confirmation a closed channel gives.
func TestConfirmsClosed(t *testing.T) {
	confirms := make(chan amqp.Confirmation)
	close(confirms)
	closed := make(chan *amqp.Error, 1)
	closed <- &amqp.Error{Code: amqp.ConnectionForced, Reason: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", Server: true}
	s := &sender{confirms: confirms, closed: closed, chClosed: make(chan *amqp.Error), pending: []int64{7, 8}, tag0: 41}
	c, ok := <-s.confirms
	err := s.onConfirm(c, ok)
	if err == nil || !strings.Contains(err.Error(), "connection closed by the broker") || !strings.Contains(err.Error(), "CONNECTION_FORCED") {
		t.Fatalf("err = %v, want the broker's reason for closing the connection", err)
	}
	if strings.Contains(err.Error(), "out of order") {
		t.Errorf("err = %v: a closed confirms channel is no confirm", err)
	}
	if len(s.pending) != 2 || s.tag0 != 41 {
		t.Errorf("pending %v, tag0 %d: a closed channel must confirm nothing", s.pending, s.tag0)
	}

	// No reason comes: the error says the confirms stopped.
	s = &sender{confirms: confirms, closed: make(chan *amqp.Error), chClosed: make(chan *amqp.Error), pending: []int64{7}}
	if err := s.onConfirm(amqp.Confirmation{}, false); !errors.Is(err, errConfirmsClosed) {
		t.Errorf("err = %v, want errConfirmsClosed", err)
	}
}

// TestConfirmInOrder: a confirm for the next delivery tag advances the
// pending window; one for another tag is an error.
func TestConfirmInOrder(t *testing.T) {
	out := &Outlet{}
	s := &sender{out: out, pending: []int64{7, 8}, tag0: 41}
	if err := s.onConfirm(amqp.Confirmation{DeliveryTag: 42, Ack: true}, true); err != nil {
		t.Fatal(err)
	}
	if len(s.pending) != 1 || s.pending[0] != 8 || s.tag0 != 42 || out.confirmed.Load() != 7 {
		t.Errorf("after confirming tag 42: pending %v, tag0 %d, confirmed %d; want [8], 42, 7", s.pending, s.tag0, out.confirmed.Load())
	}
	if err := s.onConfirm(amqp.Confirmation{DeliveryTag: 44, Ack: true}, true); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("confirm for tag 44 with 43 next: err = %v, want out of order", err)
	}
}
