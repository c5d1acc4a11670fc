// Package gridtest starts real grid storage servers (XRootD with its HTTP plugin, nginx
// with WebDAV, an S3 server: Versity S3 Gateway) on 127.0.0.1 for tests and benchmarks, and
// provides a TCP proxy that stalls a transfer part-way (to test timeouts and cancellation
// against real servers).
//
// Each server runs as a child process in a directory of its own, listens on a port picked
// at random (nginx and versitygw on 127.0.0.1 only; xrootd binds every interface but
// refuses any client that is not loopback), and is stopped by signalling only that process
// (and its process group) before waiting for it. The Start* functions tie a server to a test: they use
// t.TempDir() and stop the server in t.Cleanup. The Launch* functions are the same for
// programs (benchmarks) that manage the lifetime themselves.
//
// When a server binary is missing, the Start* functions skip the test with a message naming
// the Debian package, or fail it when the environment asks for the grid servers to be
// present: CI set to a non-empty value other than "false"/"0", or GOPILOT_REQUIRE_GRID=1
// (see Required). Debian has no S3 server: StartS3 builds versitygw once with `go install`
// into the user's cache directory (see VersitygwBinary) and skips when that fails.
//
// Servers started as root drop privileges (xrootd to user "xrootd", nginx workers to
// "www-data"); their directories are created world-traversable (0755) and the data
// directories owned by that user. Files put into a data directory by a test must be given to
// the server user as well: use the WriteFile methods.
package gridtest
