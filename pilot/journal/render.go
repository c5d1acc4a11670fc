package journal

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Render writes h as aligned text for a person: the header (PandaID,
// attempt, queue, user, work dir, start, phase), the pilots that held the
// journal, the state history with times, the payload runs (pid, start, end,
// exit, signal, CPU, max RSS), the staged files with checksums, the final
// report and its acknowledgement, the damaged lines and what is pending.
// Times are UTC. Text that came from the job or the server is quoted when it
// holds control characters. It returns the first write error.
func Render(w io.Writer, h *History) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }

	hd := h.Header
	if hd.PandaID > 0 {
		p("PanDA job %d  attempt %d  phase %s\n", hd.PandaID, hd.AttemptNr, h.Phase())
	} else {
		p("PanDA job ? (no accepted record)  phase %s\n", h.Phase())
	}
	p("  queue\t%s\n", clean(hd.Queue))
	p("  user\t%s\n", clean(hd.User))
	p("  work dir\t%s\n", clean(hd.WorkDir))
	p("  start\t%s\n", ts(hd.Start))
	if hd.Server != "" {
		p("  server\t%s\n", clean(hd.Server))
	}
	if len(hd.Outputs) > 0 || hd.LogFile != "" {
		p("  outputs\t%s\n", clean(strings.Join(hd.Outputs, ", ")))
		p("  log file\t%s\n", clean(hd.LogFile))
	}
	p("  journal\t%s (%d records, %d damaged, last %s)\n", clean(h.Path), len(h.Records), len(h.Corrupt), ts(h.LastAt))
	for _, o := range h.Opens {
		s := fmt.Sprintf("pid %d", o.Owner.PID)
		if o.Owner.Host != "" {
			s += " on " + clean(o.Owner.Host)
		}
		if o.Owner.PilotID != "" {
			s += " pilot " + clean(o.Owner.PilotID)
		}
		s += " from " + ts(o.Owner.Since)
		if o.TruncatedBytes > 0 {
			s += fmt.Sprintf(" (cut a torn line of %d bytes)", o.TruncatedBytes)
		}
		p("  opened by\t%s\n", s)
	}

	p("\nStates\n")
	p("  TIME\tSTATE\n")
	for _, s := range h.States {
		p("  %s\t%s\n", ts(s.Time), clean(s.State))
	}

	p("\nPayload runs\n")
	p("  PID\tPGID\tSTARTED\tENDED\tEXIT\tSIGNAL\tCPU s\tWALL s\tMAX RSS MB\tCGROUP\n")
	for _, r := range h.Runs {
		start := r.Started.ProcessStart
		if start.IsZero() {
			start = r.StartedAt
		}
		exit, sig, cpu, wall, rss := "-", "-", "-", "-", "-"
		if e := r.Ended; e != nil {
			exit, sig = strconv.Itoa(e.ExitCode), strconv.Itoa(e.Signal)
			cpu = strconv.FormatFloat(e.CPUSeconds, 'f', 2, 64)
			wall = strconv.FormatFloat(e.WallSeconds, 'f', 2, 64)
			rss = strconv.FormatFloat(float64(e.MaxRSSBytes)/(1<<20), 'f', 1, 64)
		}
		p("  %d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Started.PID, r.Started.Pgid, ts(start), ts(r.EndedAt),
			exit, sig, cpu, wall, rss, clean(r.Started.Cgroup))
		if r.Ended != nil && r.Ended.Cause != "" {
			p("  \tstopped: %s\n", clean(r.Ended.Cause))
		}
	}

	p("\nFiles\n")
	p("  DIR\tLFN\tSIZE\tCHECKSUM\tMOVER\tTIME\tURL\n")
	for _, f := range h.Files {
		p("  %s\t%s\t%d\t%s\t%s\t%s\t%s\n", clean(string(f.Direction)), clean(f.LFN), f.Size, dash(clean(f.Checksum)),
			dash(clean(f.Mover)), ts(f.Time), dash(clean(f.URL)))
	}

	p("\nFinal report\n")
	if f := h.Final; f == nil {
		p("  none built\n")
	} else {
		p("  state\t%s\n", clean(f.State))
		p("  built\t%s\n", ts(f.Built))
		if m := f.fields(); m != nil {
			for _, k := range []string{"pilotErrorCode", "pilotErrorDiag", "transExitCode", "exeErrorCode"} {
				if v, ok := m[k]; ok {
					p("  %s\t%s\n", k, clean(fmt.Sprint(v)))
				}
			}
		}
		if a := f.Acked; a != nil {
			p("  acknowledged\t%s (StatusCode %d, command %s, attempts %d)\n", ts(f.AckedAt), a.StatusCode, dash(clean(a.Command)), a.Attempts)
		} else {
			p("  acknowledged\tno\n")
		}
	}

	if len(h.Corrupt) > 0 {
		p("\nDamaged lines\n")
		for _, d := range h.Corrupt {
			p("  %s\n", clean(d.String()))
		}
	}
	p("\nPending: %s\n", clean(h.Pending().String()))
	return tw.Flush()
}

// ts formats t for Render; "-" for the zero time.
func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z07:00")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clean quotes s when it holds a control character (so that a value cannot
// move the cursor, add lines or break the columns), else returns it as is.
func clean(s string) string {
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return strconv.Quote(s)
		}
	}
	return s
}
