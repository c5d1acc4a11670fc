package credentials

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// PoolLeases hands out pool accounts so that no two running jobs share one, across
// goroutines and across pilot processes on the same node. Leases live in a directory: a
// lock file ".lock" (flock'd while leases are examined or changed) and one file
// "<account>.lease" per leased account, written atomically, that records the holder, the
// holder process's pid and start time, the host and a random nonce. A lease whose process
// is gone (no such pid on this host, or a pid reused by a process with another start time)
// is reclaimed. Leases written on another host are never reclaimed. A lease file that
// cannot be decoded counts as held.
type PoolLeases struct {
	dir string
}

// NewPoolLeases uses dir (created with mode 0700 if missing) for the leases.
func NewPoolLeases(dir string) (*PoolLeases, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pool lease directory: %w", err)
	}
	return &PoolLeases{dir: dir}, nil
}

type leaseRecord struct {
	Account  string    `json:"account"`
	Holder   string    `json:"holder"`
	PID      int       `json:"pid"`
	Start    string    `json:"start"` // /proc/<pid>/stat start time, clock ticks after boot
	Host     string    `json:"host"`
	Nonce    string    `json:"nonce"`
	Acquired time.Time `json:"acquired"`
}

// Acquire leases the first free account of candidates (in their order) for holder, a
// free-form description such as a PanDA job id. When candidates is nil the pool accounts
// of prefix in /etc/passwd are used (LocalPoolAccounts). Only candidates named prefix
// followed by digits are considered. release removes the lease (if it is still this one);
// calling it again does nothing. When every candidate is leased the error wraps
// ErrPoolExhausted.
func (p *PoolLeases) Acquire(prefix string, candidates []string, holder string) (account string, release func() error, err error) {
	if candidates == nil {
		if candidates, err = LocalPoolAccounts(prefix); err != nil {
			return "", nil, fmt.Errorf("pool %s: %w", prefix, err)
		}
	}
	var valid []string
	for _, c := range candidates {
		digits, ok := strings.CutPrefix(c, prefix)
		if ok && digits != "" && strings.Trim(digits, "0123456789") == "" && !strings.ContainsAny(c, "/\x00") && c != "." && c != ".." {
			valid = append(valid, c)
		}
	}
	if len(valid) == 0 {
		return "", nil, fmt.Errorf("%w: pool %q has no accounts", ErrPoolExhausted, prefix)
	}
	me, err := selfRecord(holder)
	if err != nil {
		return "", nil, err
	}
	unlock, err := p.lock()
	if err != nil {
		return "", nil, err
	}
	defer unlock()
	for _, acct := range valid {
		path := p.leasePath(acct)
		held, err := leaseHeld(path, me.Host)
		if err != nil {
			return "", nil, err
		}
		if held {
			continue
		}
		rec := me
		rec.Account = acct
		rec.Acquired = time.Now().UTC()
		if err := writeFileAtomic(path, rec); err != nil {
			return "", nil, err
		}
		var once sync.Once
		var rerr error
		return acct, func() error {
			once.Do(func() { rerr = p.release(path, rec.Nonce) })
			return rerr
		}, nil
	}
	return "", nil, fmt.Errorf("%w: all %d accounts of pool %q are leased", ErrPoolExhausted, len(valid), prefix)
}

func (p *PoolLeases) leasePath(account string) string {
	return filepath.Join(p.dir, account+".lease")
}

// lock takes the directory's exclusive flock; the returned function releases it.
func (p *PoolLeases) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(p.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pool lease lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pool lease lock: %w", err)
	}
	return func() { f.Close() }, nil // closing the descriptor drops the lock
}

func (p *PoolLeases) release(path, nonce string) error {
	unlock, err := p.lock()
	if err != nil {
		return err
	}
	defer unlock()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	var rec leaseRecord
	if json.Unmarshal(data, &rec) != nil || rec.Nonce != nonce {
		return nil // reclaimed and taken by another holder meanwhile
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// leaseHeld reports whether the lease file at path belongs to a live holder.
func leaseHeld(path, host string) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read lease: %w", err)
	}
	var rec leaseRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.PID <= 0 {
		return true, nil
	}
	if rec.Host != host {
		return true, nil
	}
	return processAlive(rec.PID, rec.Start), nil
}

// processAlive: the pid exists and, when start is known, started at that time.
func processAlive(pid int, start string) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if start == "" {
		return true
	}
	cur, err := processStart(pid)
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	return cur == start
}

// processStart reads field 22 (starttime) of /proc/<pid>/stat.
func processStart(pid int) (string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", errors.New("malformed stat")
	}
	return f[19], nil // fields after ")" start at field 3 (state)
}

func selfRecord(holder string) (leaseRecord, error) {
	host, err := os.Hostname()
	if err != nil {
		return leaseRecord{}, err
	}
	start, _ := processStart(os.Getpid())
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return leaseRecord{}, err
	}
	return leaseRecord{Holder: holder, PID: os.Getpid(), Start: start, Host: host, Nonce: hex.EncodeToString(n[:])}, nil
}

func writeFileAtomic(path string, rec leaseRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".lease-*")
	if err != nil {
		return fmt.Errorf("write lease: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write lease: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write lease: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write lease: %w", err)
	}
	return nil
}
