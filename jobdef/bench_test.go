package jobdef

import (
	"strconv"
	"strings"
	"testing"
)

func BenchmarkParseGetJobResponseURLEncoded(b *testing.B) {
	data := readTestdata(b, "getjob_response_urlencoded_aCT.txt")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseGetJobResponse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGetJobResponseJSON(b *testing.B) {
	data := readTestdata(b, "getjob_job_json_harvester_arc_submitter.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseGetJobResponse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseQueueData(b *testing.B) {
	data := readTestdata(b, "queuedata_CERN_pilot3_commit_f0f358fa.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseQueueData(data, "CERN"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLegacyJSONFinal(b *testing.B) {
	_, finished, _ := observedReports()
	for b.Loop() {
		_ = finished.LegacyJSON()
	}
}

func BenchmarkParseLegacyUpdate(b *testing.B) {
	fields := firstValues(fullReport().LegacyForm())
	for b.Loop() {
		if _, err := ParseLegacyUpdate(fields); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkManyFiles(b *testing.B) {
	// A job with 10000 inputs and 10000 data outputs.
	const n = 10000
	lists := map[string][]string{}
	for i := range n {
		id := strconv.Itoa(i)
		lists["inFiles"] = append(lists["inFiles"], "in."+id)
		lists["GUID"] = append(lists["GUID"], "g"+id)
		lists["fsize"] = append(lists["fsize"], id)
		lists["checksum"] = append(lists["checksum"], "ad:00000001")
		lists["scopeIn"] = append(lists["scopeIn"], "s")
		lists["outFiles"] = append(lists["outFiles"], "out."+id)
		lists["scopeOut"] = append(lists["scopeOut"], "s")
	}
	lists["outFiles"] = append(lists["outFiles"], "job.log.tgz")
	f := with(minimalJob(), "ddmEndPointIn", "", "realDatasets", "", "ddmEndPointOut", "")
	for k, l := range lists {
		f[k] = strings.Join(l, ",")
	}
	for b.Loop() {
		j, err := JobFromFields(f)
		if err != nil || len(j.Inputs) != n || len(j.Outputs) != n {
			b.Fatal(err)
		}
	}
}
