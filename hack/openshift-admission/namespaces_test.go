package main

import "testing"

// Labels seen on real OpenShift namespaces, at offsets that are multiples of 5 labels a project.
func TestMCSLabelMatchesOpenShift(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{{0, "s0:c1,c0"}, {5, "s0:c3,c2"}, {300, "s0:c25,c0"}, {330, "s0:c26,c5"}} {
		if got := mcsLabel(c.n, 2); got != c.want {
			t.Errorf("mcsLabel(%d) = %s, want %s", c.n, got, c.want)
		}
	}
}
