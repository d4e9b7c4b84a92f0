package main

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/llmcbench/gollm/backend"
	"github.com/llmcbench/gollm/kernels"
	"github.com/llmcbench/gollm/models"
)

// commonFlags are the flags every command takes.
type commonFlags struct {
	device  string
	dtype   string
	threads int
	json    bool
}

var devices = map[string]func(dtype string) (backend.Backend, error){
	"cpu": func(dtype string) (backend.Backend, error) {
		if dtype != "" && dtype != "f32" {
			return nil, usagef("--dtype %s: the cpu device computes in f32", dtype)
		}
		return backend.NewCPU(), nil
	},
}

// registerDevice makes a backend selectable with --device name (the cuda
// build registers "cuda").
//
//lint:ignore U1000 called from device_cuda.go, which only the cuda build compiles
func registerDevice(name string, open func(dtype string) (backend.Backend, error)) {
	devices[name] = open
}

// maxThreads is the largest --threads accepted: 4 goroutines per CPU core
// the machine has (more only adds scheduling overhead; a huge value would
// allocate per-thread scratch for each).
func maxThreads() int { return 4 * runtime.NumCPU() }

// threadsHelp is the --threads flag's help text.
const threadsHelp = "CPU threads (0: all cores; at most 4 × the number of cores)"

// checkThreads refuses a negative or excessive --threads.
func checkThreads(n int) error {
	if n < 0 {
		return usagef("--threads %d: must be ≥ 0", n)
	}
	if lim := maxThreads(); n > lim {
		return usagef("--threads %d: at most %d on this machine (4 × its %d cores)", n, lim, runtime.NumCPU())
	}
	return nil
}

// backendFor applies --threads and opens --device.
func (c *commonFlags) backendFor() (backend.Backend, error) {
	if err := checkThreads(c.threads); err != nil {
		return nil, err
	}
	if c.threads > 0 {
		kernels.SetMaxThreads(c.threads)
		kernels.SetThreads(c.threads)
	}
	open, ok := devices[c.device]
	if !ok {
		names := make([]string, 0, len(devices))
		for n := range devices {
			names = append(names, n)
		}
		sort.Strings(names)
		hint := ""
		if c.device == "cuda" {
			hint = " (this binary was built without -tags cuda; see docs/GPU.md)"
		}
		return nil, usagef("--device %s: not available%s; available: %s", c.device, hint, strings.Join(names, ", "))
	}
	return open(c.dtype)
}

// loadModel opens --model with the chosen backend.
func loadModel(dir string, c *commonFlags, random bool, seed int64) (*models.Model, error) {
	if dir == "" {
		return nil, usagef("--model is required (a Hugging Face model folder)")
	}
	b, err := c.backendFor()
	if err != nil {
		return nil, err
	}
	m, err := models.Load(dir, models.Options{Backend: b, RandomWeights: random, Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("--model %s: %w", dir, err)
	}
	return m, nil
}
