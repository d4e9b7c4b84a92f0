//go:build !unix

package tensor

import (
	"errors"
	"os"
)

func mmapFile(*os.File, int64) ([]byte, error) { return nil, errors.New("mmap unsupported") }

func munmapFile([]byte) {}
