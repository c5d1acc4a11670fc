package s3

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Location
	}{
		{"s3://127.0.0.1:9000/b/k", Location{"s3", "127.0.0.1:9000", "b", "k"}},
		{"s3://s3.cern.ch:443//atlas-eventservice/a/b/f.tar", Location{"s3", "s3.cern.ch:443", "atlas-eventservice", "a/b/f.tar"}},
		{"S3S://h/b//k//x", Location{"s3s", "h", "b", "k/x"}},
		{"s3+rucio://h:1/b/k", Location{"s3+rucio", "h:1", "b", "k"}},
	} {
		got, err := ParseURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "s3://", "s3://h", "s3://h/b", "s3://h//b/", "http://h/b/k", "s3:opaque",
		"s3://u:p@h/b/k", "s3://h/b/k#f", "s3://h/b/k?a=1", "s3://h/b/./k", "/b/k"} {
		if l, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", bad, l)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("s3://127.0.0.1:9000//bucket/a/b")
	f.Add("s3s://h/b/k")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseURL(s)
		if err == nil && (l.Host == "" || l.Bucket == "" || l.Key == "") {
			t.Errorf("ParseURL(%q) = %+v without error", s, l)
		}
	})
}

func TestSecure(t *testing.T) {
	yes, no := true, false
	m := New(Options{AccessKey: "a", SecretKey: "b", Getenv: func(string) string { return "" },
		Endpoints: map[string]Endpoint{"os.example.org:8080": {Secure: &yes}, "Plain.example.org:9000": {Secure: &no}}})
	for _, c := range []struct {
		url  string
		want bool
	}{
		{"s3://127.0.0.1:9000/b/k", false},
		{"s3://localhost:9000/b/k", false},
		{"s3://[::1]:9000/b/k", false},
		{"s3://s3.cern.ch:443/b/k", true},
		{"s3://s3.example.org/b/k", true},
		{"s3://s3.example.org:80/b/k", false},
		{"s3s://127.0.0.1:9000/b/k", true},
		{"s3://os.example.org:8080/b/k", true},
		{"s3://plain.example.org:9000/b/k", false},
	} {
		l, err := ParseURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.secure(l); got != c.want {
			t.Errorf("secure(%s) = %v, want %v", c.url, got, c.want)
		}
	}
	env := New(Options{Getenv: func(k string) string {
		return map[string]string{"S3_IS_SECURE": "True", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b"}[k]
	}})
	if l, _ := ParseURL("s3://127.0.0.1:1/b/k"); !env.secure(l) {
		t.Error("S3_IS_SECURE=True ignored")
	}
	if a, s := env.keys(Location{Host: "h"}, nil); a != "a" || s != "b" {
		t.Errorf("keys from the environment: %q %q", a, s)
	}
	aws := New(Options{Getenv: func(k string) string {
		return map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}[k]
	}})
	if a, s := aws.keys(Location{Host: "h"}, nil); a != "x" || s != "y" {
		t.Errorf("keys from AWS_*: %q %q", a, s)
	}
}

func TestErrorCode(t *testing.T) {
	for _, c := range []struct {
		op    string
		err   error
		code  jobdef.ErrorCode
		retry bool
	}{
		{movers.OpGet, minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, jobdef.MissingInputFile, false},
		{movers.OpPut, minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: 404}, jobdef.NoSuchFile, false},
		{movers.OpGet, minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}, jobdef.StageInAuthenticationFailure, false},
		{movers.OpPut, minio.ErrorResponse{Code: "SignatureDoesNotMatch", StatusCode: 403}, jobdef.StageOutAuthenticationFailure, false},
		{movers.OpPut, minio.ErrorResponse{Code: "QuotaExceeded", StatusCode: 400}, jobdef.NoRemoteSpace, false},
		{movers.OpGet, minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, jobdef.ServiceNotAvailable, true},
		{movers.OpPut, minio.ErrorResponse{Code: "RequestTimeout", StatusCode: 400}, jobdef.StageOutTimeout, true},
		{movers.OpGet, minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, jobdef.StageInFailed, true},
		{movers.OpGet, minio.ErrorResponse{StatusCode: 404}, jobdef.MissingInputFile, false},
		{movers.OpPut, minio.ErrorResponse{StatusCode: 507}, jobdef.NoRemoteSpace, false},
		{movers.OpPut, minio.ErrorResponse{Code: "InvalidArgument", StatusCode: 400}, jobdef.StageOutFailed, false},
		{movers.OpGet, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, jobdef.StageInFailed, true},
		{movers.OpGet, errors.New("remote error: tls: bad certificate"), jobdef.StageInAuthenticationFailure, false},
	} {
		if code, retry := ErrorCode(c.op, c.err); code != c.code || retry != c.retry {
			t.Errorf("ErrorCode(%s, %v) = %d %v, want %d %v", c.op, c.err, code, retry, c.code, c.retry)
		}
	}
}

func TestEndpointsFromStorage(t *testing.T) {
	sd, err := jobdef.ParseStorageData([]byte(`{
 "OS_ES": {"name": "OS_ES", "type": "OS_ES", "is_deterministic": false,
   "arprotocols": {"write_lan": [{"endpoint": "s3://os.example.org:443", "path": "/es", "id": 7}],
                   "read_lan": [{"endpoint": "s3://OS.example.org:443", "path": "/es", "id": 7}]},
   "rprotocols": {"7": {"settings": {"access_key": "OS_PUB", "secret_key": "OS_PRIV", "is_secure": "True"}}}},
 "OS_LOGS": {"name": "OS_LOGS", "arprotocols": {"write_lan": [{"endpoint": "s3://logs.example.org:9000", "path": "/l",
   "settings": {"access_key": "NOPE", "secret_key": "NOPE2", "is_secure": false}}]}},
 "DISK": {"name": "DISK", "arprotocols": {"read_lan": [{"endpoint": "root://x:1094", "path": "/d"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OS_PUB": "pub", "OS_PRIV": "priv"}
	eps := EndpointsFromStorage(sd, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if len(eps) != 2 {
		t.Fatalf("endpoints = %+v", eps)
	}
	es := eps["os.example.org:443"]
	if es.AccessKey != "pub" || es.SecretKey != "priv" || es.Secure == nil || !*es.Secure {
		t.Errorf("OS_ES endpoint = %+v", es)
	}
	logs := eps["logs.example.org:9000"]
	if logs.AccessKey != "" || logs.Secure == nil || *logs.Secure {
		t.Errorf("OS_LOGS endpoint = %+v", logs)
	}
}
