// Package gfal is the "gfal" mover (Pilot 3 also calls it "gfalcopy"): it moves files with
// the gfal2 command-line tools (gfal-copy, gfal-sum, gfal-rm), run through timedcmd with
// argument vectors, for every protocol gfal2 has a plugin for (root, davs, https, http,
// srm, gsiftp, s3, ...).
//
// Downloads go to a temporary file next to the destination; the mover computes the
// checksum of the downloaded file (one read) and renames it into place only after the size
// and the expected checksum are verified. Uploads compute the local checksum first (a
// mismatch with the expectation fails before anything is sent) and ask gfal-copy to verify
// the stored file against it ("-K ADLER32:<value>"). Storage that cannot compute checksums
// (nginx WebDAV, for example) makes gfal fail that verification; the mover then repeats the
// upload without -K and remembers the endpoint, so later uploads there skip it. After a
// failed or interrupted upload the mover removes the remote file (gfal-rm).
//
// The gfal-* scripts run the first Python that can import the gfal2 bindings; where PATH
// leads to another Python they fail ("/usr/bin/python: not found"), so the mover sets
// GFAL_PYTHONBIN=/usr/bin/python3 when that exists and the environment does not choose.
package gfal
