// Package xrootd is the "xrdcp" mover: it moves files to and from XRootD storage
// (root://, xroot://, roots:// URLs) with the xrdcp and xrdfs command-line clients, run
// through timedcmd with argument vectors (never a shell).
//
// Transfers use "xrdcp -np -f". Adler32 checksums are verified by xrdcp itself
// ("--cksum adler32:<expected>") or printed by it ("--cksum adler32:print") and parsed; a
// download of a file whose expected checksum is md5 streams xrdcp's standard output through
// the mover, which computes the md5 on the way. Downloads go to a temporary file next to the
// destination that is renamed into place only after verification; uploads use
// persist-on-successful-close and the mover removes the remote file after any failure
// (a cancelled or timed-out upload included), so no partial file is left on either side.
//
// The tools get XRD_CONNECTIONWINDOW and XRD_CONNECTIONRETRY lowered (unless the
// environment sets them) so that an unreachable server fails a transfer within seconds
// instead of the client's default of five two-minute connection windows. Failures are
// mapped to PanDA codes from the tool output as Pilot 3 does (see Classify).
package xrootd
