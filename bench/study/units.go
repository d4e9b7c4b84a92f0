package study

import (
	"context"
	"fmt"
	"sort"

	"github.com/llmcbench/gollm/bench"
	"github.com/llmcbench/gollm/internal/badinput"
)

// A unit is one model × method of a study: for a compressed method its
// compression and every measurement of the checkpoint, for dense the
// original model's measurements. Units share nothing but the study
// folder, so each can run anywhere (one Slurm array task each).

// UnitID names a unit: "MODEL/METHOD" (method as its canonical spec, or
// "dense"), as --only and --status write it.
func UnitID(model, method string) string { return model + "/" + method }

// Unit is one unit of a study's plan.
type Unit struct {
	ID     string   `json:"unit"`
	Model  string   `json:"model"`
	Method string   `json:"method"`
	Keys   []string `json:"-"` // its cells, in run order
	plans  []*plan
}

// unitsOf groups plans by unit: every dense unit first (the baselines the
// compressed rows are compared with), then the compressed ones, each in
// plan order.
func unitsOf(plans []*plan) []*Unit {
	var out []*Unit
	by := map[string]*Unit{}
	for _, p := range plans {
		u := by[p.unit]
		if u == nil {
			u = &Unit{ID: p.unit, Model: p.model, Method: p.method}
			by[p.unit] = u
			out = append(out, u)
		}
		u.Keys = append(u.Keys, p.key)
		u.plans = append(u.plans, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Method == bench.Dense && out[j].Method != bench.Dense })
	return out
}

// ErrNoUnit is an --only that names no unit of the study.
var ErrNoUnit = badinput.New("no such unit in this study (gollm bench --status lists them)")

// selectUnits keeps the plans of the units named in only (all with none);
// a name that is no unit of the study is bad input.
func selectUnits(plans []*plan, only []string) ([]*plan, error) {
	if len(only) == 0 {
		return plans, nil
	}
	want := map[string]bool{}
	for _, id := range only {
		want[id] = true
	}
	var out []*plan
	found := map[string]bool{}
	for _, p := range plans {
		if want[p.unit] {
			out = append(out, p)
			found[p.unit] = true
		}
	}
	for _, id := range only {
		if !found[id] {
			return nil, fmt.Errorf("--only %q: %w", id, ErrNoUnit)
		}
	}
	return out, nil
}

// Unit states (gollm bench --status).
const (
	StateDone    = "done"    // every cell written, all ok
	StateFailed  = "failed"  // every cell written, some failed
	StateRunning = "running" // a live process holds a cell's lock, or its Slurm task runs
	StateQueued  = "queued"  // its Slurm array task waits in the queue
	StatePending = "pending" // some cell not written (or not trusted), nothing running or queued
)

// UnitStatus is one unit's state.
type UnitStatus struct {
	Unit
	State string `json:"state"`
	// Cells counts the unit's cells; OK and Failed those written, so
	// Cells-OK-Failed are still to compute.
	Cells  int `json:"cells"`
	OK     int `json:"ok"`
	Failed int `json:"failed"`
	// Holder is the process computing one of its cells (running).
	Holder *Holder `json:"holder,omitempty"`
	// Job is the unit's Slurm array task of its latest submission
	// (JOBID_INDEX) and SlurmState its state in squeue, or in sacct once
	// it left the queue; empty when unknown.
	Job        string `json:"job,omitempty"`
	SlurmState string `json:"slurm_state,omitempty"`
}

// StatusReport is gollm bench --status.
type StatusReport struct {
	Folder string         `json:"folder"`
	Units  []UnitStatus   `json:"units"`
	Counts map[string]int `json:"counts"` // units by state
	// Slurm says what the Slurm part rests on ("squeue and sacct",
	// "squeue only: sacct: …", or why neither was asked).
	Slurm string `json:"slurm,omitempty"`
}

// Status reads the state of every unit of the study from the store (cell
// files and locks) and, when the study was submitted to Slurm, from squeue
// and sacct (q; nil: do not ask Slurm). It prepares the study folder as a
// run does (the plan needs the world's digests) but computes nothing.
func Status(ctx context.Context, o Options, q *Slurm) (*StatusReport, error) {
	o.RetryFailed = false // a failed cell is written: failed, not pending
	r, plans, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	defer r.dg.save()
	rep := &StatusReport{Folder: o.Dir, Counts: map[string]int{}}
	var tasks map[string]slurmTask
	if q != nil {
		tasks, rep.Slurm = q.unitTasks(o.Dir)
	}
	for _, u := range unitsOf(plans) {
		st := UnitStatus{Unit: *u, Cells: len(u.Keys)}
		for _, p := range u.plans {
			if c, ok := r.finished(p, false); ok {
				if c.Status == bench.StatusOK {
					st.OK++
				} else {
					st.Failed++
				}
			}
			if st.Holder == nil {
				st.Holder = LockHolder(o.Dir, p.key)
			}
		}
		t, submitted := tasks[u.ID]
		st.Job, st.SlurmState = t.job, t.state
		complete := st.OK+st.Failed == st.Cells
		switch {
		case complete && st.Failed == 0:
			st.State = StateDone
		case st.Holder != nil || submitted && t.running():
			st.State = StateRunning
		case submitted && t.queued():
			st.State = StateQueued
		case complete:
			st.State = StateFailed
		default:
			st.State = StatePending
		}
		rep.Counts[st.State]++
		rep.Units = append(rep.Units, st)
	}
	return rep, nil
}
