package pandalite

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// StatusRow is one job in `pandalite status --json` output.
type StatusRow struct {
	PandaID         int64  `json:"PandaID"`
	AttemptNr       int    `json:"attemptNr"`
	State           string `json:"state"`
	PilotErrorCode  int    `json:"pilotErrorCode"`
	PilotErrorDiag  string `json:"pilotErrorDiag,omitempty"`
	TransExitCode   int    `json:"transExitCode"`
	ExeErrorCode    int    `json:"exeErrorCode,omitempty"`
	ServerErrorDiag string `json:"serverErrorDiag,omitempty"`
	Command         string `json:"command,omitempty"`
	NSent           int    `json:"nSent"`
	NUpdates        int    `json:"nUpdates"`
	LastUpdate      string `json:"lastUpdate,omitempty"` // RFC 3339 UTC
	Site            string `json:"site"`
	Node            string `json:"node,omitempty"`
	JobName         string `json:"jobName"`
}

// StatusRows converts jobs to status rows.
func StatusRows(jobs []JobInfo) []StatusRow {
	rows := make([]StatusRow, len(jobs))
	for i, j := range jobs {
		r := StatusRow{
			PandaID: j.PandaID, AttemptNr: j.AttemptNr, State: j.State, PilotErrorCode: j.PilotErrorCode,
			PilotErrorDiag: j.PilotErrorDiag, TransExitCode: j.TransExitCode, ExeErrorCode: j.ExeErrorCode,
			ServerErrorDiag: j.ServerErrorDiag, Command: j.Command, NSent: j.NSent, NUpdates: j.NUpdates,
			Site: j.Site, Node: j.Node, JobName: j.JobName,
		}
		if !j.LastUpdate.IsZero() {
			r.LastUpdate = j.LastUpdate.UTC().Format(time.RFC3339)
		}
		rows[i] = r
	}
	return rows
}

// WriteStatus writes jobs as an aligned table (PandaID, state,
// pilotErrorCode, transExitCode, number of updates, last update time,
// site, jobName) or, with asJSON, as a JSON array of StatusRow.
func WriteStatus(w io.Writer, jobs []JobInfo, asJSON bool) error {
	rows := StatusRows(jobs)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PANDAID\tSTATE\tERROR\tEXIT\tUPDATES\tLAST UPDATE\tSITE\tJOBNAME")
	for _, r := range rows {
		last := r.LastUpdate
		if last == "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.PandaID, r.State, r.PilotErrorCode,
			r.TransExitCode, r.NUpdates, last, r.Site, r.JobName)
	}
	return tw.Flush()
}
