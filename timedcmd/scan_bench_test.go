package timedcmd

import "testing"

func BenchmarkScanProcs(b *testing.B) {
	for b.Loop() {
		if _, err := scanProcs(); err != nil {
			b.Fatal(err)
		}
	}
}
