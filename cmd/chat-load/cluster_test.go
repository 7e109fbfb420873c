package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestClusterScenario runs the cluster scenario small: every message
// reaches every member on both nodes, in both setups, and the report
// gives the ratios. It runs the chat server only (no baseline), so it
// runs under the race detector too.
func TestClusterScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("load smoke test")
	}
	var out bytes.Buffer
	res, err := runClusterCmd(context.Background(), []string{"--members", "6", "--messages", "10", "--rounds", "1"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Setup != "one-node" || res[1].Setup != "cluster" {
		t.Fatalf("results = %+v", res)
	}
	for _, r := range res {
		if r.Lost != 0 || r.Delivered != 60 || r.PerSec <= 0 || r.CrossPerSec <= 0 || r.P99 < r.P50 {
			t.Fatalf("%s: %+v", r.Setup, r)
		}
	}
	if !strings.Contains(out.String(), "| deliveries/s, members on the second node |") || !strings.Contains(out.String(), "x |") {
		t.Fatalf("report:\n%s", out.String())
	}
}
