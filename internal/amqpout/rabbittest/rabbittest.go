// Package rabbittest runs a private RabbitMQ broker for tests, from
// Debian's rabbitmq-server package: its own node name, AMQP, AMQPS,
// Erlang distribution and epmd ports on 127.0.0.1, its own data and log
// directories, users and permissions from a definitions file, and never
// the system's service or its files. As root it runs as the rabbitmq
// user (as the package's own service does); otherwise as the caller.
//
// Erlang takes seconds to start, so a test binary should share one
// broker (start it in TestMain or once on first use) and keep its tests
// apart by exchange and queue names.
package rabbittest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Paths of Debian's rabbitmq-server and erlang-base.
const (
	serverBin = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	ctlBin    = "/usr/lib/rabbitmq/bin/rabbitmqctl"
	epmdBin   = "/usr/bin/epmd"
)

// Admin is the administrator user every broker has (all permissions on
// the vhost "/").
const Admin, AdminPassword = "admin", "admin-secret"

// User is a broker user; an empty Password makes a user that can only
// log in with a client certificate naming it (SASL EXTERNAL).
type User struct {
	Name, Password string
	// Configure, Write and Read are the permission regexps on "/".
	Configure, Write, Read string
}

// Options configures a broker.
type Options struct {
	Users []User
}

// Broker is a running private broker.
type Broker struct {
	Dir string
	// Port is the AMQP port, TLSPort the AMQPS port (client
	// certificates verified when given, users taken from their common
	// name with EXTERNAL).
	Port, TLSPort int
	// TLS holds the certificates: the broker's, signed by CA for
	// "localhost" and 127.0.0.1, a client certificate for ClientUser,
	// and a CA that signed nothing the broker has (OtherCA).
	TLS *Certs

	node           string
	distPort, epmd int
	env            []string
	cred           *syscall.Credential

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	epmdCmd *exec.Cmd
}

// Start starts a broker and waits until it accepts an AMQP login.
func Start(o Options) (*Broker, error) {
	dir, err := os.MkdirTemp("", "mailgw-rabbit-")
	if err != nil {
		return nil, err
	}
	b := &Broker{Dir: dir}
	if err := b.setup(o); err != nil {
		b.Stop()
		return nil, err
	}
	if err := b.startEpmd(); err != nil {
		b.Stop()
		return nil, err
	}
	if err := b.start(); err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// setup writes the config, definitions and certificates, and picks the
// ports and the user to run as.
func (b *Broker) setup(o Options) error {
	for _, p := range []string{serverBin, ctlBin, epmdBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("rabbittest: %s missing (install rabbitmq-server: test/install-deps.sh): %w", p, err)
		}
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	b.Port, b.TLSPort, b.distPort, b.epmd = ports[0], ports[1], ports[2], ports[3]
	b.node = fmt.Sprintf("mailgw-test-%d@localhost", b.Port)
	if b.TLS, err = newCerts(filepath.Join(b.Dir, "tls")); err != nil {
		return err
	}
	users := append([]User{{Name: Admin, Password: AdminPassword, Configure: ".*", Write: ".*", Read: ".*"},
		{Name: ClientUser, Configure: ".*", Write: ".*", Read: ".*"}}, o.Users...)
	defs, err := definitions(users)
	if err != nil {
		return err
	}
	conf := fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
listeners.ssl.default = 127.0.0.1:%d
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
auth_mechanisms.1 = PLAIN
auth_mechanisms.2 = AMQPLAIN
auth_mechanisms.3 = EXTERNAL
ssl_cert_login_from = common_name
loopback_users = none
load_definitions = %s
disk_free_limit.absolute = 1MB
log.file.level = info
log.console = false
`, b.Port, b.TLSPort, b.TLS.CA, b.TLS.ServerCert, b.TLS.ServerKey, filepath.Join(b.Dir, "definitions.json"))
	files := map[string][]byte{
		"rabbitmq.conf":     []byte(conf),
		"definitions.json":  defs,
		"enabled_plugins":   []byte("[rabbitmq_auth_mechanism_ssl].\n"),
		"rabbitmq-env.conf": nil,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(b.Dir, name), data, 0o640); err != nil {
			return err
		}
	}
	b.env = []string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + b.Dir, // the Erlang cookie
		"LANG=C.UTF-8",
		"RUNNING_UNDER_SYSTEMD=true", // the script execs the VM: our pid is the broker's
		"RABBITMQ_NODENAME=" + b.node,
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(b.distPort),
		"ERL_EPMD_PORT=" + strconv.Itoa(b.epmd),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(b.Dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(b.Dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + filepath.Join(b.Dir, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(b.Dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(b.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(b.Dir, "log"),
		"RABBITMQ_PID_FILE=" + filepath.Join(b.Dir, "rabbitmq.pid"),
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("rabbitmq")
		if err != nil {
			return fmt.Errorf("rabbittest: user rabbitmq (made by the rabbitmq-server package): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		b.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		err = filepath.Walk(b.Dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// definitions is the broker's definitions file: the vhost "/" and the
// users with their permissions. Passwords are stored as RabbitMQ's
// default hash: base64(salt ‖ SHA-256(salt ‖ password)), 4 salt bytes.
func definitions(users []User) ([]byte, error) {
	type perm struct {
		User      string `json:"user"`
		Vhost     string `json:"vhost"`
		Configure string `json:"configure"`
		Write     string `json:"write"`
		Read      string `json:"read"`
	}
	type usr struct {
		Name         string   `json:"name"`
		PasswordHash string   `json:"password_hash"`
		Hashing      string   `json:"hashing_algorithm"`
		Tags         []string `json:"tags"`
	}
	var d struct {
		Users       []usr               `json:"users"`
		Vhosts      []map[string]string `json:"vhosts"`
		Permissions []perm              `json:"permissions"`
	}
	d.Vhosts = []map[string]string{{"name": "/"}}
	for _, u := range users {
		hash := ""
		if u.Password != "" {
			hash = PasswordHash(u.Password)
		}
		tags := []string{}
		if u.Name == Admin {
			tags = []string{"administrator"}
		}
		d.Users = append(d.Users, usr{u.Name, hash, "rabbit_password_hashing_sha256", tags})
		d.Permissions = append(d.Permissions, perm{u.Name, "/", u.Configure, u.Write, u.Read})
	}
	return json.MarshalIndent(d, "", "  ")
}

// PasswordHash is RabbitMQ's stored form of password (SHA-256 hashing).
func PasswordHash(password string) string {
	salt := make([]byte, 4)
	rand.Read(salt)
	h := sha256.Sum256(append(append([]byte{}, salt...), password...))
	return base64.StdEncoding.EncodeToString(append(salt, h[:]...))
}

// startEpmd runs the broker's own epmd (Erlang's port mapper) on its own
// port, in the foreground, so that Stop ends it.
func (b *Broker) startEpmd() error {
	cmd := exec.Command(epmdBin, "-port", strconv.Itoa(b.epmd), "-address", "127.0.0.1")
	cmd.Env = b.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rabbittest: epmd: %w", err)
	}
	b.epmdCmd = cmd
	go cmd.Wait()
	return waitListen(b.epmd, 10*time.Second)
}

// start runs the broker and waits until the admin can log in.
func (b *Broker) start() error {
	out, err := os.OpenFile(filepath.Join(b.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(serverBin)
	cmd.Dir = b.Dir
	cmd.Env = b.env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rabbittest: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.mu.Lock()
	b.cmd, b.exited = cmd, exited
	b.mu.Unlock()
	// Erlang's start takes seconds, much more on a loaded machine.
	deadline := time.Now().Add(120 * time.Second)
	for {
		c, err := amqp.Dial(b.URL(Admin, AdminPassword))
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("rabbittest: broker exited at start: %v\n%s", cmd.ProcessState, b.Log(4000))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rabbittest: broker not up within 120s: %v\n%s", err, b.Log(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URL is the broker's amqp:// URL for user and password, vhost "/".
func (b *Broker) URL(user, password string) string {
	u := url.URL{Scheme: "amqp", User: url.UserPassword(user, password), Host: fmt.Sprintf("127.0.0.1:%d", b.Port), Path: "/"}
	return u.String()
}

// TLSURL is the broker's amqps:// URL on host "localhost" (the name in
// its certificate), without a user: with a client certificate the
// broker takes the user from it.
func (b *Broker) TLSURL() string {
	return fmt.Sprintf("amqps://localhost:%d/", b.TLSPort)
}

// Kill ends the broker with SIGKILL, as a crash would, and waits for it.
func (b *Broker) Kill() error {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if cmd == nil {
		return errors.New("rabbittest: broker not running")
	}
	// The whole process group: the VM and its port programs.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	return nil
}

// Restart starts the broker again on the same data (after Kill).
func (b *Broker) Restart() error { return b.start() }

// Stop stops the broker and its epmd and removes its directory.
func (b *Broker) Stop() {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if cmd != nil {
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
	}
	if b.epmdCmd != nil {
		syscall.Kill(-b.epmdCmd.Process.Pid, syscall.SIGKILL)
	}
	os.RemoveAll(b.Dir)
}

// Ctl runs rabbitmqctl against the broker.
func (b *Broker) Ctl(args ...string) (string, error) {
	cmd := exec.Command(ctlBin, append([]string{"-n", b.node}, args...)...)
	cmd.Dir = b.Dir
	cmd.Env = b.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Log returns the last n bytes of the broker's log files.
func (b *Broker) Log(n int) string {
	var buf bytes.Buffer
	files, _ := filepath.Glob(filepath.Join(b.Dir, "log", "*.log"))
	files = append(files, filepath.Join(b.Dir, "stdout.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&buf, "== %s\n%s\n", f, data)
	}
	return buf.String()
}

// freePorts returns n TCP ports on 127.0.0.1 that were free a moment
// ago, from 20000–32767 (below Linux's ephemeral range, where outgoing
// connections would take them).
func freePorts(n int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for try := 0; len(out) < n && try < 5000; try++ {
		p := 20000 + mrand.IntN(12768)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, p)
	}
	if len(out) < n {
		return nil, errors.New("rabbittest: no free ports")
	}
	return out, nil
}

// waitListen waits until something accepts on port.
func waitListen(port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rabbittest: nothing listens on %d: %w", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
