package e2efault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	fp "github.com/gopilot/gopilot/internal/faultproxy"
	"github.com/gopilot/gopilot/internal/sitetest"
	"github.com/gopilot/gopilot/pilot/journal"
)

// stage is one moment at which a pilot is killed: how the job is set up, how
// the test knows the pilot is there, and what recovery must make of it.
type stage struct {
	name string
	// setup submits job id and prepares the site and proxy; it returns a
	// function that waits until the running pilot is at the stage.
	setup func(t *testing.T, s *sitetest.Site, p *fp.Proxy, id int64) (reached func(pl *sitetest.Pilot))
	// afterKill runs once the pilot is dead, before recovery (optional).
	afterKill func()
	// phase is the journal's phase after the kill.
	phase journal.Phase
	// state, code and files are what the server must end with.
	state string
	code  int
	files func(id int64) []string
	// resent: the recovery's report reaches a server that already applied
	// the final update (answer alreadydone).
	resent bool
}

func outputAndLog(id int64) []string { return []string{outLFN(id), sitetest.LogLFN(id)} }
func logOnly(id int64) []string      { return []string{sitetest.LogLFN(id)} }

// stages lists every stage of a job at which the pilot is killed.
func stages() []*stage {
	var fifo *os.File
	return []*stage{
		{
			// The input is a FIFO in the storage element: the copy mover
			// blocks reading it until the test writes, and the test knows the
			// pilot is reading once its own non-blocking open for writing
			// succeeds.
			name: "stage-in",
			setup: func(t *testing.T, s *sitetest.Site, p *fp.Proxy, id int64) func(*sitetest.Pilot) {
				lfn := fmt.Sprintf("e2efault.%d.in", id)
				src := s.RsePath("e2e", lfn)
				sitetest.Must(t, os.MkdirAll(filepath.Dir(src), 0o755))
				sitetest.Must(t, unix.Mkfifo(src, 0o644))
				j := job(id, "")
				j["inFiles"], j["GUID"], j["fsize"], j["checksum"] = lfn, "11111111-1111-4111-8111-111111111111", "1048576", "ad:00000001"
				j["scopeIn"], j["realDatasetsIn"], j["ddmEndPointIn"], j["prodDBlockToken"] = "e2e", "e2e.in", "E2E_DISK", "NULL"
				s.Submit(j)
				return func(pl *sitetest.Pilot) {
					sitetest.WaitFor(t, time.Minute, "the pilot reading its input", func() bool {
						alive(t, pl)
						f, err := os.OpenFile(src, os.O_WRONLY|syscall.O_NONBLOCK, 0)
						if err != nil {
							if !errors.Is(err, syscall.ENXIO) {
								t.Fatalf("opening the input FIFO: %v", err)
							}
							return false
						}
						fifo = f
						return true
					})
					// Some data, and the FIFO stays open: the copy waits for more.
					fifo.Write(make([]byte, 4096))
				}
			},
			afterKill: func() {
				if fifo != nil {
					fifo.Close()
				}
			},
			phase: journal.PhaseSetup, state: "failed", code: 1301, files: logOnly,
		},
		{
			name: "payload",
			setup: func(t *testing.T, s *sitetest.Site, p *fp.Proxy, id int64) func(*sitetest.Pilot) {
				s.Submit(job(id, "sleep 600;"))
				return func(pl *sitetest.Pilot) {
					sitetest.WaitFor(t, time.Minute, "the payload running", func() bool {
						alive(t, pl)
						return journalHas(s.Work, id, journal.KindPayloadStarted) && len(sitetest.LiveProcesses(s.Work, marker(id))) > 0
					})
				}
			},
			phase: journal.PhaseRunning, state: "failed", code: 1220, files: logOnly,
		},
		{
			// A 512 MiB output takes the copy mover a while; the pilot is
			// killed as soon as it says it stages outputs out.
			name: "stage-out",
			setup: func(t *testing.T, s *sitetest.Site, p *fp.Proxy, id int64) func(*sitetest.Pilot) {
				pars := fmt.Sprintf("head -c 512M /dev/zero > %s; : %s", outLFN(id), marker(id))
				s.Submit(sitetest.WithOutput(sitetest.BaseJob(id, "true;", pars), outLFN(id)))
				return func(pl *sitetest.Pilot) { pl.WaitLog(t, 2*time.Minute, "stage-out of outputs") }
			},
			phase: journal.PhaseStageOut, state: "finished", code: 0, files: outputAndLog,
		},
		{
			// The proxy holds the final update before the server sees it.
			name: "before the final update",
			setup: func(t *testing.T, s *sitetest.Site, p *fp.Proxy, id int64) func(*sitetest.Pilot) {
				s.Submit(job(id, ""))
				g := fp.NewGate()
				rule := p.Add(fp.Match{Final: true, PandaID: id}, fp.Fault{Kind: fp.Hold, Gate: g})
				return func(pl *sitetest.Pilot) {
					h := wait(t, g)
					p.Remove(rule)
					t.Cleanup(h.Drop)
				}
			},
			phase: journal.PhaseUnacked, state: "finished", code: 0, files: outputAndLog,
		},
		{
			// The server applies the final update; the proxy holds its
			// answer until the pilot is dead.
			name: "after the final update reached the server",
			setup: func(t *testing.T, s *sitetest.Site, p *fp.Proxy, id int64) func(*sitetest.Pilot) {
				s.Submit(job(id, ""))
				g := fp.NewGate()
				rule := p.Add(fp.Match{Final: true, PandaID: id}, fp.Fault{Kind: fp.Hold, After: true, Gate: g})
				return func(pl *sitetest.Pilot) {
					h := wait(t, g)
					p.Remove(rule)
					t.Cleanup(h.Drop)
				}
			},
			phase: journal.PhaseUnacked, state: "finished", code: 0, files: outputAndLog, resent: true,
		},
	}
}

// alive fails the test when the pilot has ended before the stage it was to
// be killed in.
func alive(t *testing.T, pl *sitetest.Pilot) {
	t.Helper()
	if pl.Exited() {
		t.Fatalf("the pilot ended before the stage was reached:\n%s", pl.Log())
	}
}

func wait(t *testing.T, g *fp.Gate) *fp.Held {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	h, err := g.Wait(ctx)
	sitetest.Must(t, err)
	return h
}

// recovery is how the jobs of a dead pilot are finished.
type recovery struct {
	name string
	run  func(t *testing.T, s *sitetest.Site, p *fp.Proxy) (*sitetest.Pilot, int)
}

func recoveries() []recovery {
	return []recovery{
		{"pilot recover", func(t *testing.T, s *sitetest.Site, p *fp.Proxy) (*sitetest.Pilot, int) {
			pl := recoverPilot(t, s, pilotArgs(p)...)
			return pl, pl.Wait(t, waitDeadline)
		}},
		{"next pilot", func(t *testing.T, s *sitetest.Site, p *fp.Proxy) (*sitetest.Pilot, int) {
			pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
			return pl, pl.Wait(t, waitDeadline)
		}},
	}
}

// A pilot is killed with SIGKILL at each stage of a job; recovery by `pilot
// recover` or by the next pilot on the same work directory finishes the job
// as the recovery contract says: one final state with the right code, the
// outputs of a payload that succeeded staged out and registered once,
// nothing left running, every journal acknowledged.
func TestKillAtEveryStage(t *testing.T) {
	t.Parallel()
	for si := range stages() {
		for ri, rec := range recoveries() {
			st := stages()[si]
			id := int64(7401 + 10*si + ri)
			t.Run(st.name+"/"+rec.name, func(t *testing.T) {
				t.Parallel()
				s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
				p := s.FaultProxy(uint64(id))
				reached := st.setup(t, s, p, id)
				pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
				reached(pl)
				pl.Kill()
				if st.afterKill != nil {
					st.afterKill()
				}
				t.Cleanup(func() { sitetest.KillProcesses(sitetest.LiveProcesses(s.Work, marker(id))) })
				if got := phaseOf(t, s.Work, id); got != st.phase {
					t.Fatalf("killed in phase %s, want %s (the kill missed the stage)\n%s", got, st.phase, pl.Log())
				}
				if st.phase == journal.PhaseRunning && len(sitetest.LiveProcesses(s.Work, marker(id))) == 0 {
					t.Fatal("the payload did not outlive its pilot: nothing to recover")
				}

				rp, code := rec.run(t, s, p)
				if code != 0 {
					t.Errorf("recovery exit %d", code)
				}
				checkJob(t, s, id, st.state, st.code, st.files(id)...)
				checkJournals(t, s.Work)
				t.Run("no partial file on storage", func(t *testing.T) {
					checkStorage(t, s, fmt.Sprintf("e2efault.%d.in", id))
				})
				outs, err := sitetest.Outcomes(t.Context(), s.Store())
				sitetest.Must(t, err)
				if o := outs[id]; st.resent && o.AlreadyDone == 0 {
					t.Errorf("the recovered report was not sent again (no alreadydone answer)")
				}
				if t.Failed() {
					t.Logf("killed pilot:\n%s\nrecovery:\n%s\nproxy record:\n%s", pl.Log(), rp.Log(), record(p))
				}
			})
		}
	}
}

// With --recover-running wait, recovery lets a payload the dead pilot left
// running end on its own, then reports the job failed with 1220.
func TestRecoverWaitsForPayload(t *testing.T) {
	t.Parallel()
	const id = 7501
	s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
	p := s.FaultProxy(id)
	release := filepath.Join(s.Dir, "release")
	s.Submit(job(id, fmt.Sprintf("until [ -e %s ]; do sleep 0.1; done;", release)))
	pl := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
	sitetest.WaitFor(t, time.Minute, "the payload running", func() bool {
		return journalHas(s.Work, id, journal.KindPayloadStarted) && len(sitetest.LiveProcesses(s.Work, marker(id))) > 0
	})
	pl.Kill()
	t.Cleanup(func() { sitetest.KillProcesses(sitetest.LiveProcesses(s.Work, marker(id))) })

	rp := recoverPilot(t, s, pilotArgs(p, "--recover-running", "wait")...)
	rp.WaitLog(t, time.Minute, "waiting for the payload")
	if len(sitetest.LiveProcesses(s.Work, marker(id))) == 0 {
		t.Fatal("recovery did not wait: the payload is gone")
	}
	sitetest.Must(t, os.WriteFile(release, nil, 0o644))
	if code := rp.Wait(t, waitDeadline); code != 0 {
		t.Errorf("recovery exit %d", code)
	}
	checkJob(t, s, id, "failed", 1220, sitetest.LogLFN(id))
	checkJournals(t, s.Work)
	if t.Failed() {
		t.Logf("killed pilot:\n%s\nrecovery:\n%s", pl.Log(), rp.Log())
	}
}

// A pilot that starts on a work directory where another pilot is running a
// job leaves that job alone (its journal is locked): it neither reports it
// nor kills its payload, and takes the next job. The first pilot finishes
// its job; every job ends once.
func TestRecoverySkipsLiveJob(t *testing.T) {
	t.Parallel()
	const a, b = 7511, 7512
	s := sitetest.New(t, bin, sitetest.QueueJSON(0, ""))
	p := s.FaultProxy(a)
	release := filepath.Join(s.Dir, "release")
	s.Submit(job(a, fmt.Sprintf("until [ -e %s ]; do sleep 0.1; done;", release)))
	first := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
	sitetest.WaitFor(t, time.Minute, "the payload running", func() bool {
		return journalHas(s.Work, a, journal.KindPayloadStarted) && len(sitetest.LiveProcesses(s.Work, marker(a))) > 0
	})
	s.Submit(job(b, ""))
	second := sitetest.StartPilot(t, s.PilotCmd(pilotArgs(p)...))
	if code := second.Wait(t, waitDeadline); code != 0 {
		t.Errorf("second pilot exit %d", code)
	}
	if len(sitetest.LiveProcesses(s.Work, marker(a))) == 0 {
		t.Error("the second pilot killed the first pilot's payload")
	}
	if st := s.Job(a).State; st == "finished" || st == "failed" {
		t.Errorf("job %d reported %s while its pilot still runs it", a, st)
	}
	sitetest.Must(t, os.WriteFile(release, nil, 0o644))
	if code := first.Wait(t, waitDeadline); code != 0 {
		t.Errorf("first pilot exit %d", code)
	}
	checkJob(t, s, a, "finished", 0, outLFN(a), sitetest.LogLFN(a))
	checkJob(t, s, b, "finished", 0, outLFN(b), sitetest.LogLFN(b))
	checkJournals(t, s.Work)
	if t.Failed() {
		t.Logf("first pilot:\n%s\nsecond pilot:\n%s", first.Log(), second.Log())
	}
}
