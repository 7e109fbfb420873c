package main

import (
	"context"
	"testing"
	"time"
)

// The streams the tool opens end with the run, or when a scenario stops
// them, but send the server no deadline: the run's --timeout is not one.
func TestStreamContextEndsWithTheRunAndCarriesNoDeadline(t *testing.T) {
	run, endRun := context.WithTimeout(context.Background(), time.Hour)
	defer endRun()
	sctx, stop := streamContext(run)
	defer stop()
	if dl, ok := sctx.Deadline(); ok {
		t.Errorf("the stream's context has the deadline %v", dl)
	}
	other, stopOther := streamContext(run)
	stopOther()
	if other.Err() == nil || run.Err() != nil || sctx.Err() != nil {
		t.Fatalf("stopping one stream: it %v, the run %v, another stream %v; want only the first ended", other.Err(), run.Err(), sctx.Err())
	}
	endRun()
	select {
	case <-sctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the stream's context outlived the run")
	}
}
