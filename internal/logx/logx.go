// Package logx holds the logging plumbing shared by the binaries: logrus
// set-up for the pilot log (stderr plus pilotlog.txt) and an adapter that lets
// go-retryablehttp log through a logrus.FieldLogger.
package logx

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// Options configures New.
type Options struct {
	// Level is a logrus level name; "" means info.
	Level string
	// JSON selects the JSON formatter instead of text.
	JSON bool
	// Stderr receives every record; nil means os.Stderr.
	Stderr io.Writer
	// File, when non-empty, is opened for appending and receives every record too.
	File string
	// Filter, when non-nil, wraps the combined writer (for example a secret redactor).
	Filter func(io.Writer) io.Writer
}

// New builds a logger that writes to stderr and, optionally, to a file. The
// returned close function flushes and closes the file; it is safe to call once.
func New(opts Options) (*logrus.Logger, func() error, error) {
	lg := logrus.New()
	lvl := logrus.InfoLevel
	if opts.Level != "" {
		l, err := logrus.ParseLevel(opts.Level)
		if err != nil {
			return nil, nil, fmt.Errorf("log level %q: %w", opts.Level, err)
		}
		lvl = l
	}
	lg.SetLevel(lvl)
	if opts.JSON {
		lg.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	} else {
		lg.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "2006-01-02 15:04:05.000Z07:00", DisableColors: true})
	}
	var out io.Writer = os.Stderr
	if opts.Stderr != nil {
		out = opts.Stderr
	}
	closeFn := func() error { return nil }
	if opts.File != "" {
		f, err := os.OpenFile(opts.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		out = io.MultiWriter(out, f)
		closeFn = f.Close
	}
	if opts.Filter != nil {
		out = opts.Filter(out)
	}
	lg.SetOutput(out)
	return lg, closeFn, nil
}

// Leveled adapts a logrus.FieldLogger to go-retryablehttp's LeveledLogger
// interface (Error, Info, Debug, Warn with alternating key/value pairs).
// retryablehttp's own attempt messages are logged at debug level so that a
// healthy pilot stays quiet.
type Leveled struct {
	L logrus.FieldLogger
}

func (a Leveled) fields(kv []interface{}) logrus.FieldLogger {
	l := a.L
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			k = fmt.Sprint(kv[i])
		}
		l = l.WithField(k, kv[i+1])
	}
	return l
}

// Error logs at warning level: the HTTP client reports recoverable attempt
// failures as errors, and the caller reports the final outcome itself.
func (a Leveled) Error(msg string, kv ...interface{}) { a.fields(kv).Warn(msg) }

// Info logs at debug level.
func (a Leveled) Info(msg string, kv ...interface{}) { a.fields(kv).Debug(msg) }

// Debug logs at debug level.
func (a Leveled) Debug(msg string, kv ...interface{}) { a.fields(kv).Debug(msg) }

// Warn logs at warning level.
func (a Leveled) Warn(msg string, kv ...interface{}) { a.fields(kv).Warn(msg) }

// RedactingWriter returns a writer that passes every write through redact
// before it reaches w. logrus writes each record with one Write call, so a
// secret inside a record is always seen whole.
func RedactingWriter(w io.Writer, redact func(string) string) io.Writer {
	return redactWriter{w: w, redact: redact}
}

type redactWriter struct {
	w      io.Writer
	redact func(string) string
}

// Write reports len(p) on success even when redaction changed the length.
func (r redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
