// Package xrootd is the "xrdcp" mover: it moves files to and from XRootD storage
// (root://, xroot://, roots:// URLs) with the xrdcp and xrdfs command-line clients, run
// through timedcmd with argument vectors (never a shell).
//
// Transfers use "xrdcp -np -f" with the storage path made absolute ("root://host//path").
// Downloads stream xrdcp's standard output through a pipe into a temporary file next to the
// destination; the mover computes the checksum (adler32 or md5) beside that copy, on the
// other core, and renames the file into place only after verification. (With
// Options.ToolChecksum xrdcp writes the file and computes adler32 itself, "--cksum
// adler32:<expected>" or ":print", in its writing thread: measured slower.) Uploads use
// persist-on-successful-close and "--cksum adler32:<expected>|print", so xrdcp checks the
// server's adler32 of the stored file against the source's; the mover removes the remote
// file after any failure (a cancelled or timed-out upload included), so no partial file is
// left on either side.
//
// The tools get XRD_CONNECTIONWINDOW and XRD_CONNECTIONRETRY lowered (unless the
// environment sets them) so that an unreachable server fails a transfer within seconds
// instead of the client's default of five two-minute connection windows. Failures are
// mapped to PanDA codes from the tool output as Pilot 3 does (see Classify).
package xrootd
