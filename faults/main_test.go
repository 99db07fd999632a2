package faults_test

import (
	"os"
	"testing"

	"github.com/sopd/sop/faults"
)

func TestMain(m *testing.M) {
	code := m.Run()
	faults.RemoveBinaries()
	os.Exit(code)
}
