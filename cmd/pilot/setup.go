package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/pilot"
	"github.com/gopilot/gopilot/pilot/server"
)

// userAgent is sent with every request.
func userAgent() string {
	return fmt.Sprintf("gopilot/%s (Go %s; %s %s)", pilot.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// setupPull wires pull mode: the server client, queue and storage data, the
// stager, and (with -z) the heartbeat file instead of server updates.
func setupPull(ctx context.Context, p *pilot.Pilot) error {
	cfg := p.Cfg
	base, err := cfg.ServerURL()
	if err != nil {
		return jobdef.NewError(jobdef.CommunicationFailure, err.Error(), err)
	}
	api, err := server.ParseAPI(cfg.API)
	if err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client, err := server.New(server.Options{
		BaseURL: base, API: api, UserAgent: userAgent(), Log: p.Log,
		HTTPClient: &http.Client{Transport: tr},
	})
	if err != nil {
		return jobdef.NewError(jobdef.CommunicationFailure, err.Error(), err)
	}
	p.ServerURL = base
	p.Source = client
	p.Reporter = client
	p.Fetch = client
	if cfg.NoServerUpdate {
		p.Reporter = &pilot.FileReporter{Dir: p.Workdir}
	}

	qctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	q, err := pilot.LoadQueueData(qctx, client, cfg.QueuedataURL, base, cfg.Queue, p.Workdir)
	if err != nil {
		return err
	}
	if err := pilot.CheckQueue(q); err != nil {
		return err
	}
	p.Queue = q
	if q.CatchallHas("curlgetjob") {
		// Pilot 3's curl path: form bodies answered in JSON.
		client, err = server.New(server.Options{
			BaseURL: base, API: api, UserAgent: userAgent(), Log: p.Log, FormEncoding: true,
			HTTPClient: &http.Client{Transport: tr},
		})
		if err != nil {
			return err
		}
		p.Source = client
	}
	sd, err := pilot.LoadStorageData(qctx, client, cfg.StoragedataURL, base, p.Workdir)
	if err != nil {
		p.Log.WithError(err).Warn("no storage data: stage-in and stage-out through RSEs will fail")
		sd = jobdef.StorageData{}
	}
	return setupStager(p, q, sd)
}

// setupOffline wires `pilot exec`: one job from a file, updates written to
// heartbeat.json, the log tarball kept in the work directory.
func setupOffline(ctx context.Context, p *pilot.Pilot, jobFile, queuedataFile, storageFile string) error {
	p.Offline = true
	p.Cfg.Cleanup = false
	p.Source = &pilot.FileSource{Path: jobFile}
	p.Reporter = &pilot.FileReporter{Dir: p.Workdir}
	q := &jobdef.QueueData{Name: p.Cfg.Queue, ACopytools: map[string][]string{"default": {"copy"}}}
	if queuedataFile != "" {
		data, err := os.ReadFile(queuedataFile)
		if err != nil {
			return jobdef.NewError(jobdef.QueueDataError, "queue data file", err)
		}
		if q, err = jobdef.ParseQueueData(data, p.Cfg.Queue); err != nil {
			return err
		}
	}
	p.Queue = q
	sd := jobdef.StorageData{}
	if storageFile != "" {
		var err error
		if sd, err = pilot.LoadStorageData(ctx, nil, storageFile, "", ""); err != nil {
			return err
		}
	}
	return setupStager(p, q, sd)
}

func setupStager(p *pilot.Pilot, q *jobdef.QueueData, sd jobdef.StorageData) error {
	reg, err := newRegistry()
	if err != nil {
		return err
	}
	p.Stager = &movers.Stager{
		Registry: reg, Queue: q, Storage: sd, Log: p.Log,
		Retries: 2, Backoff: 2 * time.Second,
		MinTimeout: time.Duration(p.Cfg.StageinTimeout) * time.Second,
		InputDir:   p.Cfg.InputDir,
	}
	return nil
}
