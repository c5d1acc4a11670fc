package journal

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// BenchmarkAppend measures durable appends (write + fdatasync per record)
// in a directory of JOURNAL_BENCH_DIR, else the test's temporary directory.
func BenchmarkAppend(b *testing.B) {
	report := json.RawMessage(`{"jobId":"4242","state":"finished","xml":"` + strings.Repeat("x", 4000) + `"}`)
	for _, bc := range []struct {
		name string
		ev   Event
	}{
		{"state", StateChange{State: "running"}},
		{"file_staged", FileStaged{Direction: Out, LFN: "EVNT.12345678._000001.pool.root.1", URL: "davs://se.example:443/atlas/rucio/mc/EVNT.12345678._000001.pool.root.1",
			Size: 1 << 30, Checksum: "ad:0a1b2c3d", Mover: "gfal"}},
		{"report_4KiB", ReportBuilt{State: "finished", Report: report}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			if d := os.Getenv("JOURNAL_BENCH_DIR"); d != "" {
				var err error
				if dir, err = os.MkdirTemp(d, "bench"); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
			}
			j := mustOpen(b, dir)
			for b.Loop() {
				if _, err := j.Append(bc.ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkReplay measures reading a 1000-record journal (what a pilot
// does per job directory when it starts).
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	j := mustOpen(b, dir)
	evs := sampleEvents(dir)
	for i := 0; i < 1000; i++ {
		if _, err := j.Append(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
	}
	j.Close()
	for b.Loop() {
		if _, err := Replay(j.Path()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
