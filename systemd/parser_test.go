package systemd_test

import (
	"strings"
	"testing"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// parserSyscalls are the system calls the daemon needs to run its parser
// process (ingest/sandbox) and the parser needs to limit itself: start
// (clone, execve, pipes), watch and end it (pidfd, wait, kill), and set
// its limits (prlimit64, getrusage; Go and x/sys use prlimit64, never the
// setrlimit system call, which @resources holds).
var parserSyscalls = []string{
	"clone", "clone3", "execve", "pipe2", "dup3", "wait4", "waitid", "kill", "tgkill",
	"pidfd_open", "pidfd_send_signal", "prlimit64", "getrusage", "mmap", "munmap",
}

// TestParserProcessAllowed: the unit's system-call filter, with every
// group expanded by systemd-analyze, allows what the parser process needs.
func TestParserProcessAllowed(t *testing.T) {
	sa := testenv.NeedTool(t, "systemd-analyze", "systemd")
	u := parseUnit(t, unitFile)
	allowed, denied := map[string]bool{}, map[string]bool{}
	groups := map[string][]string{} // a group's members, as systemd-analyze lists them
	var expand func(name string, into map[string]bool)
	expand = func(name string, into map[string]bool) {
		if !strings.HasPrefix(name, "@") {
			into[name] = true
			return
		}
		members, ok := groups[name]
		if !ok {
			out, errOut, code := run(t, sa, "syscall-filter", "--no-pager", name)
			if code != 0 {
				t.Fatalf("systemd-analyze syscall-filter %s: exit %d: %s", name, code, errOut)
			}
			for _, l := range strings.Split(out, "\n")[1:] {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					members = append(members, l)
				}
			}
			groups[name] = members
		}
		for _, m := range members {
			expand(m, into)
		}
	}
	filters := u["Service"]["SystemCallFilter"]
	if len(filters) == 0 {
		t.Fatal("no SystemCallFilter=: this test checks what it allows")
	}
	for _, v := range filters {
		into := allowed
		if strings.HasPrefix(v, "~") {
			into, v = denied, strings.TrimPrefix(v, "~")
		}
		for _, name := range strings.Fields(v) {
			expand(name, into)
		}
	}
	if len(allowed) < 100 {
		t.Fatalf("only %d system calls allowed after expansion: expansion failed?", len(allowed))
	}
	if !denied["setrlimit"] {
		t.Log("setrlimit is no longer denied: the comment in the unit about @resources is out of date")
	}
	for _, s := range parserSyscalls {
		if !allowed[s] || denied[s] {
			t.Errorf("SystemCallFilter=%q: %s allowed %v, denied %v; the parser process needs it", filters, s, allowed[s], denied[s])
		}
	}
}
