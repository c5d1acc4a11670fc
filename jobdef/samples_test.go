package jobdef

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := readTestdataNoT(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdataNoT(name string) ([]byte, error) { return os.ReadFile("testdata/" + name) }

// rejoinYoda turns the wrapped docstring sample back into JSON: a line that leaves a string
// literal open is joined with the following lines (leading white space removed) until the
// literal closes; the separator is "" after ',' or '/' (wrapped lists and paths) and " "
// otherwise (wrapped command lines).
func rejoinYoda(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		cur := strings.TrimRight(lines[i], " ")
		for openQuotes(cur)%2 == 1 && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			sep := " "
			if strings.HasSuffix(cur, ",") || strings.HasSuffix(cur, "/") {
				sep = ""
			}
			cur += sep + next
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// openQuotes counts the unescaped double quotes in s.
func openQuotes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			n++
		}
	}
	return n
}

type wantFile struct {
	kind                           FileKind
	lfn, guid, scope               string
	size                           int64
	checksum                       string
	dataset, rse, prodTok, destTok string
}

func checkFiles(t *testing.T, what string, got []FileSpec, want []wantFile) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d files, want %d: %+v", what, len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.LFN != w.lfn || g.GUID != w.guid || g.Scope != w.scope || g.Size != w.size ||
			g.Checksum.String() != w.checksum || g.Dataset != w.dataset || g.DDMEndpoint != w.rse ||
			g.ProdDBlockToken != w.prodTok || g.DestinationDBlockToken != w.destTok {
			t.Errorf("%s[%d] =\n  %+v\nwant\n  %+v", what, i, g, w)
		}
	}
}

func TestSampleURLEncodedACT(t *testing.T) {
	resp, err := ParseGetJobResponse(readTestdata(t, "getjob_response_urlencoded_aCT.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 0 || len(resp.Jobs) != 1 {
		t.Fatalf("StatusCode %d, %d jobs", resp.StatusCode, len(resp.Jobs))
	}
	j := resp.Jobs[0]
	ints := []struct {
		name      string
		got, want int64
	}{
		{"PandaID", j.PandaID, 3072596651}, {"JobsetID", j.JobsetID, 799}, {"TaskID", j.TaskID, 9845189},
		{"JobDefinitionID", j.JobDefinitionID, 836}, {"AttemptNr", int64(j.AttemptNr), 2},
		{"CoreCount", int64(j.CoreCount), 1}, {"MinRamCount", j.MinRamCount, 4772},
		{"MaxDiskCount", j.MaxDiskCount, 3167}, {"MaxCpuCount", j.MaxCpuCount, 0},
		{"CurrentPriority", j.CurrentPriority, 814}, {"NSent", int64(j.NSent), 0}, {"MaxWalltime", j.MaxWalltime, 0},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	strs := []struct{ name, got, want string }{
		{"ProdSourceLabel", j.ProdSourceLabel, "user"},
		{"Transformation", j.Transformation, "http://pandaserver.cern.ch:25085/trf/user/runAthena-00-00-12"},
		{"HomePackage", j.HomePackage, "AnalysisTransforms-AtlasProduction_20.7.3.7"},
		{"SwRelease", j.SwRelease, "Atlas-20.7.3"},
		{"CmtConfig", j.CmtConfig, "x86_64-slc6-gcc48-opt"},
		{"Cloud", j.Cloud, "ND"}, {"Nucleus", j.Nucleus, ""}, {"DestinationSE", j.DestinationSE, ""},
		{"SourceSite", j.SourceSite, ""}, {"TransferType", j.TransferType, ""},
		{"ProcessingType", j.ProcessingType, "panda-client-0.5.69-jedi-athena-trf"},
		{"ProdUserID", j.ProdUserID, "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=rwatari/CN=764796/CN=Ryutaro Watari/CN=proxy"},
		{"JobName", j.JobName, "user.rwatari.1k_10mu.xm005_yp106.RDO.20161003_2_EXT0_PseduoTracking_v14_all1E5ev/.3071213044"},
		{"LogFile", j.LogFile, "user.rwatari.1k_10mu.xm005_yp106.RDO.20161003_2_EXT0_PseduoTracking_v14_all1E5ev.log.9845189.002324.log.tgz"},
		{"LogGUID", j.LogGUID, "5ba37307-e4d7-4224-82f9-ff0503622677"},
		{"ContainerName", j.ContainerName, ""}, {"ResourceType", j.ResourceType, ""},
	}
	for _, c := range strs {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !j.IsAnalysis() || j.Debug || j.EventService || !j.LoopingCheck {
		t.Errorf("IsAnalysis %v Debug %v EventService %v LoopingCheck %v", j.IsAnalysis(), j.Debug, j.EventService, j.LoopingCheck)
	}
	if len(j.Raw) != 48 {
		t.Errorf("len(Raw) = %d, want 48", len(j.Raw))
	}
	if j.Raw["destinationSE"] != "NULL" || j.Raw["dispatchDBlockTokenForOut"] != "NULL,NULL,NULL" {
		t.Errorf("Raw not as received: %q %q", j.Raw["destinationSE"], j.Raw["dispatchDBlockTokenForOut"])
	}
	// jobPars: no directive to strip; --useLocalIO is interpreted and kept.
	if j.JobPars != j.Raw["jobPars"] || !strings.HasPrefix(j.JobPars, "-l panda.1110091801.467362.lib._9845189.7456421499.lib.tgz --sourceURL https://aipanda078.cern.ch:25443") ||
		!strings.Contains(j.JobPars, "--useLocalIO  -i \"['user.rwatari.9557718.EXT2._000016.RDO_FTK.pool.root']\"") {
		t.Errorf("JobPars = %q", j.JobPars)
	}
	if !j.Directives.UseLocalIO || j.Directives.AccessMode != "copy" || j.Directives.OverwriteQueueData != nil {
		t.Errorf("Directives = %+v", j.Directives)
	}
	ds := "user.rwatari.1k_10mu.xm005_yp106.RDO.20161003_2_EXT0_PseduoTracking_v14_all1E5ev"
	checkFiles(t, "Inputs", j.Inputs, []wantFile{
		{Input, "user.rwatari.9557718.EXT2._000016.RDO_FTK.pool.root", "51997D0A-850A-9044-A264-83A8986FE1C6", "user.rwatari",
			1140292964, "ad:fd1c3aac", "user.rwatari.1k_10mu.xm005_yp106.RDO.20161003_2_EXT0_RDO2RDOFTK_v01_all1E5ev_EXT2", "NDGF-T1_SCRATCHDISK", "", ""},
		{Input, "panda.1110091801.467362.lib._9845189.7456421499.lib.tgz", "1de48e07-f37c-43e6-a343-3947342858b1", "panda",
			727003478, "ad:516b31b3", "panda.1110091801.467362.lib._9845189", "NDGF-T1_SCRATCHDISK", "", ""},
	})
	checkFiles(t, "Outputs", j.Outputs, []wantFile{
		{Output, "user.rwatari.9845189.EXT0._002324.InDetDxAOD.pool.root", "", "user.rwatari", 0, "", ds + "_EXT0/", "NDGF-T1_SCRATCHDISK", "", ""},
		{Output, "user.rwatari.9845189.EXT1._002324.esd.pool.root", "", "user.rwatari", 0, "", ds + "_EXT1/", "NDGF-T1_SCRATCHDISK", "", ""},
	})
	checkFiles(t, "Log", []FileSpec{j.Log}, []wantFile{
		{Log, ds + ".log.9845189.002324.log.tgz", "5ba37307-e4d7-4224-82f9-ff0503622677", "user.rwatari", 0, "", ds + ".log/", "NDGF-T1_SCRATCHDISK", "", ""},
	})
	if err := j.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// A Harvester/aCT "cgi" job file is the same line.
	jf, err := ParseJobFile(readTestdata(t, "getjob_response_urlencoded_aCT.txt"))
	if err != nil || !reflect.DeepEqual(jf, j) {
		t.Errorf("ParseJobFile differs from ParseGetJobResponse (err %v)", err)
	}
}

func TestSampleJSONHarvesterARC(t *testing.T) {
	data := readTestdata(t, "getjob_job_json_harvester_arc_submitter.json")
	resp, err := ParseGetJobResponse(data)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 0 || len(resp.Jobs) != 1 {
		t.Fatalf("StatusCode %d, %d jobs", resp.StatusCode, len(resp.Jobs))
	}
	j := resp.Jobs[0]
	if j.PandaID != 3487584273 || j.TaskID != 11364822 || j.JobsetID != 11881 || j.AttemptNr != 2 || j.NSent != 2 ||
		j.CoreCount != 1 || j.MaxWalltime != 40638 || j.MaxCpuCount != 40638 || j.MinRamCount != 1573 ||
		j.MaxDiskCount != 485 || j.CurrentPriority != 900 || j.JobDefinitionID != 0 {
		t.Errorf("numbers: %+v", j)
	}
	if j.Transformation != "Sim_tf.py" || j.IsAnalysis() || j.ProdSourceLabel != "managed" || j.ProdUserID != "gingrich" ||
		j.HomePackage != "AtlasOffline/21.0.15" || j.SwRelease != "Atlas-21.0.15" || j.CmtConfig != "x86_64-slc6-gcc49-opt" ||
		j.Cloud != "WORLD" || j.Nucleus != "CERN-PROD" || j.DestinationSE != "CERN-PROD_PRESERVATION" || j.ProcessingType != "simul" ||
		j.TransferType != "" || j.SourceSite != "" {
		t.Errorf("strings: %+v", j)
	}
	// Native JSON types are kept in Raw in their text form.
	if j.Raw["PandaID"] != "3487584273" || j.Raw["StatusCode"] != "0" || j.Raw["transferType"] != "NULL" || len(j.Raw) != 49 {
		t.Errorf("Raw: PandaID %q StatusCode %q transferType %q len %d", j.Raw["PandaID"], j.Raw["StatusCode"], j.Raw["transferType"], len(j.Raw))
	}
	if !strings.HasPrefix(j.JobPars, "--inputEVNTFile=EVNT.11329621._001079.pool.root.1 --maxEvents=50 --postInclude \"default:RecJobTransforms/UseFrontier.py\"") ||
		!strings.HasSuffix(j.JobPars, "--simulator=FullG4 --truthStrategy=MC15aPlus") {
		t.Errorf("JobPars = %q", j.JobPars)
	}
	checkFiles(t, "Inputs", j.Inputs, []wantFile{
		{Input, "EVNT.11329621._001079.pool.root.1", "A407D965-B139-A543-8851-A8E134A678D7", "mc16_13TeV", 129263662, "ad:cd0bf10b",
			"mc16_13TeV:mc16_13TeV.364168.Sherpa_221_NNPDF30NNLO_Wmunu_MAXHTPTV500_1000.merge.EVNT.e5340_e5984_tid11329621_00", "NDGF-T1_DATADISK", "", ""},
	})
	// The sample's logFile ("...tgz.1") is not among outFiles ("...tgz.11"): both outFiles
	// entries are data outputs, the second takes scopeLog, and the log comes from logFile.
	base := "mc16_13TeV.364168.Sherpa_221_NNPDF30NNLO_Wmunu_MAXHTPTV500_1000.simul."
	checkFiles(t, "Outputs", j.Outputs, []wantFile{
		{Output, "HITS.11364822._128373.pool.root.11", "", "mc16_13TeV", 0, "", base + "HITS.e5340_e5984_s3126_tid11364822_00", "CERN-PROD_DATADISK", "", "dst:CERN-PROD_DATADISK"},
		{Output, "log.11364822._128373.job.log.tgz.11", "", "mc16_13TeV", 0, "", base + "log.e5340_e5984_s3126_tid11364822_00", "NDGF-T1_DATADISK", "", "dst:NDGF-T1_DATADISK"},
	})
	checkFiles(t, "Log", []FileSpec{j.Log}, []wantFile{
		{Log, "log.11364822._128373.job.log.tgz.1", "88ee8a52-5c70-490c-a585-5eb6f48e4152", "mc16_13TeV", 0, "", "", "", "", ""},
	})
	if err := j.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// Same object as a plain job file.
	jf, err := ParseJobFile(data)
	if err != nil || !reflect.DeepEqual(jf, j) {
		t.Errorf("ParseJobFile differs (err %v)", err)
	}
}

func TestSampleYodaJobSpecFile(t *testing.T) {
	data := []byte(rejoinYoda(string(readTestdata(t, "harvester_jobspecfile_yoda_docstring.txt"))))
	j, err := ParseJobFile(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if j.PandaID != 3298217817 || j.CoreCount != 8 || j.AttemptNr != 3 || j.JobsetID != 3287071385 || j.TaskID != 10919503 ||
		j.MaxWalltime != 46981 || j.MaxCpuCount != 46981 || j.MinRamCount != 23750 || j.MaxDiskCount != 323 ||
		j.CurrentPriority != 851 || j.NSent != 1 || !j.EventService || j.EventServiceMerge {
		t.Errorf("numbers/flags: %+v", j)
	}
	if j.Transformation != "Sim_tf.py" || j.ProcessingType != "validation" || j.Nucleus != "LRZ-LMU" ||
		j.DestinationSE != "LRZ-LMU_C2PAP_MCORE" || j.HomePackage != "AtlasProduction/19.2.5.3" {
		t.Errorf("strings: %+v", j)
	}
	if j.Raw["inFilePaths"] != "/scratch2/scratchdirs/dbenjami/harvester_edison/test-area/test-18/EVNT.06402143._000615.pool.root.1" {
		t.Errorf("inFilePaths = %q", j.Raw["inFilePaths"])
	}
	wantPars := `--inputEVNTFile=EVNT.06402143._000615.pool.root.1 --AMITag=s3022 --DBRelease="default:current" --DataRunNumber=222525 ` +
		`--conditionsTag "default:OFLCOND-RUN12-SDR-19" --firstEvent=1 --geometryVersion="default:ATLAS-R2-2015-03-01-00_VALIDATION" ` +
		`--maxEvents=1000 --outputHITSFile=HITS.10919503._000051.pool.root.1 --physicsList=FTFP_BERT --postInclude "default:PyJobTransforms/UseFrontier.py" ` +
		`--preInclude "EVNTtoHITS:SimulationJobOptions/preInclude.BeamPipeKill.py,SimulationJobOptions/preInclude.FrozenShowersFCalOnly.py,AthenaMP/AthenaMP_EventService.py" ` +
		`--randomSeed=611 --runNumber=362002 --simulator=MC12G4 --skipEvents=0 --truthStrategy=MC15aPlus`
	if j.JobPars != wantPars {
		t.Errorf("JobPars =\n%q\nwant\n%q", j.JobPars, wantPars)
	}
	base := "mc15_13TeV.362002.Sherpa_CT10_Znunu_Pt0_70_CVetoBVeto_fac025."
	checkFiles(t, "Inputs", j.Inputs, []wantFile{
		{Input, "EVNT.06402143._000615.pool.root.1", "BEA4C016-E37E-0841-A448-8D664E8CD570", "mc15_13TeV", 24805997, "ad:363a57ab",
			"mc15_13TeV:" + base + "evgen.EVNT.e4376/", "NERSC_DATADISK", "", ""},
	})
	checkFiles(t, "Outputs", j.Outputs, []wantFile{
		{Output, "HITS.10919503._000051.pool.root.1", "", "mc15_13TeV", 0, "", base + "simul.HITS.e4376_s3022_tid10919503_00", "LRZ-LMU_DATADISK", "", "dst:LRZ-LMU_DATADISK"},
	})
	checkFiles(t, "Log", []FileSpec{j.Log}, []wantFile{
		{Log, "log.10919503._000051.job.log.tgz.1.3298217817", "6872598f-658b-4ecb-9a61-0e1945e44dac", "mc15_13TeV", 0, "", base + "simul.log.e4376_s3022_tid10919503_00", "NERSC_DATADISK", "", "dst:NERSC_DATADISK"},
	})
	if err := j.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestSampleQueueDataCERN(t *testing.T) {
	data := readTestdata(t, "queuedata_CERN_pilot3_commit_f0f358fa.json")
	q, err := ParseQueueData(data, "CERN")
	if err != nil {
		t.Fatal(err)
	}
	if q.Name != "CERN" || q.Resource != "CERN" || q.Site != "CERN-PROD" || q.State != "ACTIVE" || q.Status != "online" ||
		q.Type != "unified" || q.ResourceType != "GRID" || q.Environ != "" {
		t.Errorf("strings: %+v", q)
	}
	if q.Timefloor != 60*time.Minute || q.MaxTime != 288000*time.Second || q.MaxWDir != 160000 || q.MaxInputSize != 100000 ||
		q.MaxRSS != 32000 || q.CoreCount != 8 {
		t.Errorf("numbers: Timefloor %v MaxTime %v MaxWDir %d MaxInputSize %d MaxRSS %d CoreCount %d",
			q.Timefloor, q.MaxTime, q.MaxWDir, q.MaxInputSize, q.MaxRSS, q.CoreCount)
	}
	if q.Catchall != "jobseed=all,es_to_zip,zip_time_gap=7200" || !q.CatchallHas("es_to_zip") || !q.CatchallHas("jobseed") ||
		q.CatchallHas("curlgetjob") || q.CatchallHas("zip") {
		t.Errorf("catchall %q", q.Catchall)
	}
	if v, ok := q.CatchallValue("zip_time_gap"); !ok || v != "7200" {
		t.Errorf("CatchallValue(zip_time_gap) = %q, %v", v, ok)
	}
	wantCT := map[string]CopytoolSetup{"objectstore": {}, "rucio": {}, "xrdcp": {Setup: "$VO_ATLAS_SW_DIR/local/xrootdsetup.sh"}}
	if !reflect.DeepEqual(q.Copytools, wantCT) {
		t.Errorf("Copytools = %+v", q.Copytools)
	}
	wantACT := map[string][]string{"es_events": {"objectstore"}, "es_events_read": {"objectstore"}, "pr": {"rucio"},
		"pw": {"rucio"}, "read_lan": {"rucio"}, "write_lan": {"rucio"}}
	if !reflect.DeepEqual(q.ACopytools, wantACT) {
		t.Errorf("ACopytools = %v", q.ACopytools)
	}
	if got := q.AStorages["es_events"]; !reflect.DeepEqual(got, []string{"CERN-PROD_ES"}) {
		t.Errorf("astorages[es_events] = %v", got)
	}
	if got := q.AStorages["pr"]; len(got) != 34 || got[0] != "CERN-PROD_DATADISK" || got[33] != "CERN-PROD_TZERO" {
		t.Errorf("astorages[pr] = %v", got)
	}
	if got := q.AStorages["write_lan_analysis"]; len(got) != 30 || got[0] != "CERN-PROD_SCRATCHDISK" || got[1] != "CERN-PROD_DATADISK" {
		t.Errorf("astorages[write_lan_analysis] = %v", got)
	}
	if got := q.StoragesFor("pw"); len(got) != 30 || got[0] != "CERN-PROD_DATADISK" || got[29] != "CERN-PROD_TZDISK" {
		t.Errorf("StoragesFor(pw) = %v", got)
	}
	if !reflect.DeepEqual(q.ContainerType, map[string]string{"pilot": "singularity"}) {
		t.Errorf("ContainerType = %v", q.ContainerType)
	}
	if !q.DirectAccessLAN || !q.DirectAccessWAN {
		t.Errorf("direct access LAN %v WAN %v", q.DirectAccessLAN, q.DirectAccessWAN)
	}
	if v, ok := q.Param("maxNewWorkersPerCycle"); !ok || v != 400.0 {
		t.Errorf("Param(maxNewWorkersPerCycle) = %v, %v", v, ok)
	}
	if v, ok := q.Param("resource_type_limits.SCORE"); !ok || v != 5000.0 || len(q.Params) != 6 {
		t.Errorf("Param(resource_type_limits.SCORE) = %v, %v (%d params)", v, ok, len(q.Params))
	}
	if q.ParamPercent("pilot_rss_grace", 100) != 100 || q.ParamPercent("pilot_maxwdir_grace", 20) != 20 || q.ParamBool("job_maxwalltime") {
		t.Error("absent params do not give defaults")
	}
	if len(q.Raw) != 114 || q.Raw["siteid"] != "CERN" {
		t.Errorf("Raw has %d keys, siteid %v", len(q.Raw), q.Raw["siteid"])
	}
	// CRIC files wrap the object by queue name.
	wrapped := append(append([]byte(`{"CERN": `), data...), '}')
	q2, err := ParseQueueData(wrapped, "CERN")
	if err != nil || !reflect.DeepEqual(q2, q) {
		t.Errorf("wrapped form differs (err %v)", err)
	}
	q3, err := ParseQueueData(wrapped, "")
	if err != nil || !reflect.DeepEqual(q3, q) {
		t.Errorf("wrapped form without queue name differs (err %v)", err)
	}
}

func TestSampleJobReports(t *testing.T) {
	ok, err := ParseJobReport(readTestdata(t, "jobreport_successful_pilot3_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ok.Name != "Sim_tf" || ok.ReportVersion != "2.0.7" || ok.ExitCode != 0 || ok.ExitAcronym != "OK" || ok.ExitMsg != "OK" {
		t.Errorf("successful report: %+v", ok)
	}
	wantOut := []JobReportFile{{Type: "HITS", ArgName: "outputHITSFile", Name: "HITS.12039077._013137.pool.root.1",
		GUID: "9051A804-2965-9346-9ED7-64435E702DFC", Size: 156541511, NEntries: 250}}
	wantIn := []JobReportFile{{Type: "EVNT", Name: "EVNT.08847247._002212.pool.root.1", GUID: "A7AD81C0-B1B0-D341-A229-D8E7B066EF08", NEntries: 5000}}
	if !reflect.DeepEqual(ok.Outputs, wantOut) || !reflect.DeepEqual(ok.Inputs, wantIn) || ok.NEvents() != 250 {
		t.Errorf("files: in %+v out %+v", ok.Inputs, ok.Outputs)
	}
	failed, err := ParseJobReport(readTestdata(t, "jobreport_failed_pilot3_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if failed.ExitCode != 66 || failed.ExitAcronym != "TRF_EXEC_VALIDATION_FAIL" ||
		failed.ExitMsg != "File EVNT.13276676._000045.pool.root.1 did not pass corruption test" {
		t.Errorf("failed report: %+v", failed)
	}
	wantOut = []JobReportFile{{Type: "HITS", ArgName: "outputHITSFile", Name: "HITS.13287270._195329.pool.root.1"}}
	if !reflect.DeepEqual(failed.Outputs, wantOut) || failed.NEvents() != 0 {
		t.Errorf("failed outputs: %+v", failed.Outputs)
	}
}
