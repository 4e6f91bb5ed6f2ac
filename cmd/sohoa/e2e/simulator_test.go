package e2e

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestStaffSimulator drives the real daemon (dir sink, the province's
// stand-in: <outbox>/<dossier>/<file>) with short random sequences of what
// clerks and scanners do (simactions_test.go) mixed with kill -9, waits
// until it is quiet, stops it and checks, per sequence, with the pair
// (dossier, content) as the unit:
//
//   - every content a person meant for a dossier reached that dossier exactly
//     once, or waits in a staff folder (LOST otherwise, DOUBLED if twice);
//     every content meant to wait for a code waits there; a damaged file is
//     in Lỗi, unless its dossier got a later scan;
//   - nothing else was uploaded: no content in a dossier nobody meant it for
//     (MISPLACED), no partial file;
//   - every file in a staff folder has its note (UNNOTED);
//   - no spool file without its record, the database is consistent after
//     every kill and at the end (ORPHAN);
//   - sohoa_uploads_total equals the distinct (dossier, content) pairs in the
//     sink and sohoa_dossiers_digitized_total the dossiers among them
//     (MISCOUNTED);
//   - the daemon went quiet: inbox empty, queue empty, nothing moving (STUCK).
//
// SOHOA_SIM_SEQUENCES sequences (default 20), SOHOA_SIM_PARALLEL daemons at
// once (default 4). The seed is logged; SOHOA_SIM_SEED=S replays a run and
// SOHOA_SIM_SEQUENCE=N only its sequence N. A failing sequence prints its
// actions, the daemon's last log lines (SOHOA_SIM_FULL_LOG=1: all of them,
// at debug level) and the replay command.
func TestStaffSimulator(t *testing.T) {
	sequences := simEnvInt(t, "SOHOA_SIM_SEQUENCES", 20)
	parallel := simEnvInt(t, "SOHOA_SIM_PARALLEL", 4)
	seed := envSeed(t, "SOHOA_SIM_SEED")
	only := -1
	if os.Getenv("SOHOA_SIM_SEQUENCE") != "" {
		only = simEnvInt(t, "SOHOA_SIM_SEQUENCE", 0)
	}
	t.Logf("%d sequences, %d at once; replay with SOHOA_SIM_SEED=%d", sequences, parallel, seed)
	samples := loadSimSamples(t)

	var (
		mu    sync.Mutex
		total simCounts
		next  int
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= sequences {
					return
				}
				if only >= 0 && i != only {
					continue
				}
				t.Run(fmt.Sprintf("seq%03d", i), func(t *testing.T) {
					s := newSimSeq(t, i, seed, samples)
					s.run()
					mu.Lock()
					total.add(s.counts)
					mu.Unlock()
				})
			}
		}()
	}
	wg.Wait()
	t.Logf("staff simulator, %v: %v", time.Since(start).Round(time.Second), total)
}

func simEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || (n == 0 && name != "SOHOA_SIM_SEQUENCE") {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// simCounts are a sequence's, or the run's, counts, indexed by the
// constants below.
type simCounts [simNumCounts]int

const (
	simSequences = iota
	simActions
	simKills
	simUploads
	simWaitingFiles
	simRejectedFiles
	simLost
	simDoubled
	simMisplaced
	simUnnoted
	simOrphans
	simMiscounted
	simStuck
	simNumCounts
)

var simCountNames = [simNumCounts]string{"sequences", "actions", "kills", "uploads ((dossier, content) pairs)", "waiting",
	"rejected", "lost", "doubled", "misplaced", "unnoted", "orphans", "miscounted", "stuck"}

func (c *simCounts) add(o simCounts) {
	for i := range c {
		c[i] += o[i]
	}
}

func (c simCounts) String() string {
	var parts []string
	for i, n := range c {
		parts = append(parts, fmt.Sprintf("%s %d", simCountNames[i], n))
	}
	return strings.Join(parts, ", ")
}

// The staff folders, as the default config names them, and the watcher's
// quiet time in the simulator's config.
const (
	simErrors  = "Lỗi"
	simWaiting = "Chờ mã hồ sơ"
	simQuiet   = 50 * time.Millisecond
)

// simSamples are the corpus scans contents are made from: valid ones that
// are uploaded as they are (no repair, no blank page, no receipt), one of
// them with no code anywhere, and a damaged one.
type simSamples struct {
	coded   [][]byte
	uncoded []byte
	bad     []byte
}

func loadSimSamples(t *testing.T) *simSamples {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(testenv.Corpus(t), name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return &simSamples{
		coded:   [][]byte{read("HS 000.00.12.H57-200320-0002 to khai.pdf"), read("000.00.12.H57-200320-0001.pdf")},
		uncoded: read("scan_0009.pdf"),
		bad:     read("truncated 000.00.12.H57-200322-0003.pdf"),
	}
}

// simSeq is one sequence: its daemon, plan, contents and intents.
type simSeq struct {
	t        *testing.T
	idx      int
	seed     uint64
	e        *env
	samples  *simSamples
	plan     []simAction
	codes    []string
	contents []*simContent
	intents  []*simIntent
	paths    map[string]*simIntent // inbox path -> the last file saved there
	stalled  map[string]bool       // dossiers a slow writer stalled on
	// notesDeleted are the staff-folder files whose note a person deleted.
	notesDeleted map[string]bool
	log          []string
	kills        int
	counts       simCounts
}

func newSimSeq(t *testing.T, idx int, seed uint64, samples *simSamples) *simSeq {
	rng := rand.New(rand.NewPCG(seed, uint64(idx)))
	s := &simSeq{t: t, idx: idx, seed: seed, e: newEnv(t), samples: samples,
		paths: map[string]*simIntent{}, stalled: map[string]bool{}, notesDeleted: map[string]bool{}}
	s.plan = simPlan(rng, 5+rng.IntN(11))
	for d := range 3 {
		s.codes = append(s.codes, fmt.Sprintf("000.00.12.H57-2011%02d-%04d", 1+d, 1+rng.IntN(9999)))
	}
	// Half the sequences deliver hard links to the spool copies.
	link := rng.IntN(2) == 0
	s.e.writeConfig(fmt.Sprintf(`upload:
  sink: dir
  retry: {min_backoff: 50ms, max_backoff: 400ms}
  dir: {path: %q, link: %t}
`, s.e.outbox, link))
	// SOHOA_SIM_FULL_LOG: the whole story of a replayed sequence.
	level := "info"
	if os.Getenv("SOHOA_SIM_FULL_LOG") != "" {
		level = "debug"
	}
	s.e.fastWatch(level)
	s.log = append(s.log, fmt.Sprintf("codes %v, dir sink link %t", s.codes, link))
	return s
}

func (s *simSeq) run() {
	t, e := s.t, s.e
	e.start()
	for i, a := range s.plan {
		s.act(i, a)
	}
	if e.cmd == nil {
		e.start()
	}
	uploads, digitized, quiet := s.waitQuiet(20 * time.Second)
	e.stop()
	s.counts[simSequences], s.counts[simActions], s.counts[simKills] = 1, len(s.plan), s.kills
	if !quiet {
		s.counts[simStuck]++
		t.Errorf("STUCK: not quiet after 20s (inbox left: %v)", e.inboxLeft())
	}
	s.verify(uploads, digitized)
	if t.Failed() {
		t.Logf("sequence %d:\n%s", s.idx, strings.Join(s.log, "\n"))
		if os.Getenv("SOHOA_SIM_FULL_LOG") != "" {
			e.logMu.Lock()
			t.Logf("daemon log:\n%s", e.log.String())
			e.logMu.Unlock()
		} else {
			t.Logf("daemon log (last lines; SOHOA_SIM_FULL_LOG=1 for all, at debug level):\n%s", e.logText())
		}
		t.Logf("replay: CI=true SOHOA_SIM_SEED=%d SOHOA_SIM_SEQUENCE=%d SOHOA_SIM_SEQUENCES=%d go test -count=1 -v -run '^TestStaffSimulator$' ./cmd/sohoa/e2e/",
			s.seed, s.idx, s.idx+1)
	}
}

// waitQuiet waits until the inbox holds nothing but the staff folders, the
// queue is empty and nothing has moved in the inbox, the sink and the spool
// for over two rescans; it returns sohoa_uploads_total and
// sohoa_dossiers_digitized_total then.
func (s *simSeq) waitQuiet(limit time.Duration) (uploads, digitized float64, quiet bool) {
	e := s.e
	const ward = `{ward="000.00.12.H57"}`
	deadline := time.Now().Add(limit)
	last, since := "", time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		state := treeState(e.inbox) + "|" + treeState(e.outbox) + "|" + treeState(filepath.Join(e.data, "spool"))
		if state != last {
			last, since = state, time.Now()
			continue
		}
		if time.Since(since) > 1200*time.Millisecond && len(e.inboxLeft()) == 0 && e.metric("sohoa_upload_queue_length"+ward) == 0 {
			return e.metric("sohoa_uploads_total" + ward), e.metric("sohoa_dossiers_digitized_total" + ward), true
		}
	}
	return e.metric("sohoa_uploads_total" + ward), e.metric("sohoa_dossiers_digitized_total" + ward), false
}

// treeState lists the paths and sizes under dir.
func treeState(dir string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d\n", p, info.Size())
		}
		return nil
	})
	return b.String()
}

// simPair is the unit of upload: a content for a dossier.
type simPair struct{ dossier, sha string }

// verify checks the invariants after the daemon stopped.
func (s *simSeq) verify(uploadsTotal, digitizedTotal float64) {
	t, e := s.t, s.e
	c := &s.counts
	byID := map[string]*simContent{}
	for _, ct := range s.contents {
		byID[ct.sha] = ct
	}
	name := func(sha string) string {
		if ct := byID[sha]; ct != nil {
			return ct.String()
		}
		return fmt.Sprintf("unknown content %.8s", sha)
	}

	// What the sink holds: (dossier, content) -> files.
	delivered := map[simPair][]string{}
	dossiers, reached := map[string]bool{}, map[string]bool{} // dossiers and contents in the sink
	filepath.WalkDir(e.outbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(e.outbox, p)
		if strings.HasPrefix(d.Name(), ".") {
			c[simMisplaced]++
			t.Errorf("MISPLACED: a partial file in the sink: %s", rel)
			return nil
		}
		dossier, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		pr := simPair{dossier, fileSHA(t, p)}
		delivered[pr] = append(delivered[pr], filepath.ToSlash(rel))
		dossiers[dossier], reached[pr.sha] = true, true
		return nil
	})
	// What the staff folders hold: content -> files, and files without notes.
	staff := map[string][]string{}
	for _, folder := range []string{simErrors, simWaiting} {
		for _, rel := range s.staffFiles(folder, false) {
			p := filepath.Join(e.inbox, filepath.FromSlash(rel))
			sha := fileSHA(t, p)
			staff[sha] = append(staff[sha], rel)
			if folder == simWaiting {
				c[simWaitingFiles]++
			} else {
				c[simRejectedFiles]++
			}
			if !fileExistsAt(p + ".txt") {
				c[simUnnoted]++
				by := "the daemon removed it or never wrote it"
				if s.notesDeleted[rel] {
					by = "a person deleted it and it was not written again"
				}
				t.Errorf("UNNOTED: %s (%s) has no note beside it: %s", rel, name(sha), by)
			}
		}
	}

	meant, allowed, mustWait, damaged := s.wants()
	for pr := range meant {
		switch n := len(delivered[pr]); {
		case n == 1:
		case n > 1:
			c[simDoubled]++
			t.Errorf("DOUBLED: %s reached %s %d times: %v", name(pr.sha), pr.dossier, n, delivered[pr])
		case len(staff[pr.sha]) > 0:
		default:
			c[simLost]++
			t.Errorf("LOST: %s meant for %s: neither in the sink nor in a staff folder (%s); %s", name(pr.sha), pr.dossier, s.meantBy(pr), s.said(pr.sha))
		}
	}
	for pr, files := range delivered {
		switch {
		case !allowed[pr] && s.stalled[pr.dossier] && byID[pr.sha] == nil:
			t.Logf("%s in %s: a half-written file, taken after the writer stalled past watch.quiet", name(pr.sha), pr.dossier)
		case !allowed[pr]:
			c[simMisplaced]++
			t.Errorf("MISPLACED: %s uploaded to %s, which nobody meant it for: %v", name(pr.sha), pr.dossier, files)
		case !meant[pr] && len(files) > 1:
			c[simDoubled]++
			t.Errorf("DOUBLED: %s reached %s %d times: %v", name(pr.sha), pr.dossier, len(files), files)
		}
	}
	c[simUploads] = len(delivered)
	for sha := range mustWait {
		// Saved with no code: it waits for one, unless the same bytes
		// reached a dossier (a copy of a scan already uploaded).
		if len(staff[sha]) == 0 && !reached[sha] {
			c[simLost]++
			t.Errorf("LOST: %s, saved with no code, does not wait in %s; %s", name(sha), simWaiting, s.said(sha))
		}
	}
	for sha, dossier := range damaged {
		if len(staff[sha]) == 0 && !dossiers[dossier] {
			c[simLost]++
			t.Errorf("LOST: %s, a damaged file for %s, is not in %s (and its dossier got no other scan); %s", name(sha), dossier, simErrors, s.said(sha))
		}
	}

	// The daemon's own counts.
	if int(uploadsTotal) != len(delivered) {
		c[simMiscounted]++
		t.Errorf("MISCOUNTED: sohoa_uploads_total %v, but the sink holds %d (dossier, content) pairs", uploadsTotal, len(delivered))
	}
	if int(digitizedTotal) != len(dossiers) {
		c[simMiscounted]++
		t.Errorf("MISCOUNTED: sohoa_dossiers_digitized_total %v, but the sink holds %d dossiers", digitizedTotal, len(dossiers))
	}

	st := s.checkDatabase("at the end")
	defer st.Close()
	c[simOrphans] += checkSpool(t, e, st)
}

// checkDatabase opens the stopped daemon's database and runs bbolt's
// consistency check; it returns the store, open, for more checks.
func (s *simSeq) checkDatabase(when string) *store.Store {
	st, err := store.Open(filepath.Join(s.e.data, "sohoa.db"), 5*time.Second)
	if err != nil {
		s.t.Fatalf("open the database %s: %v", when, err)
	}
	if err := st.Check(); err != nil {
		s.counts[simOrphans]++
		s.t.Errorf("ORPHAN: database check %s: %v", when, err)
	}
	return st
}

// wants sums up what people meant: the pairs that must arrive (or wait in
// a staff folder), those that may arrive, the contents that must wait for a
// code, and the damaged contents that must be in the errors folder, by
// their dossier.
func (s *simSeq) wants() (meant, allowed map[simPair]bool, mustWait map[string]bool, damaged map[string]string) {
	meant, allowed, mustWait, damaged = map[simPair]bool{}, map[simPair]bool{}, map[string]bool{}, map[string]string{}
	for _, in := range s.intents {
		pr := simPair{in.dossier, in.c.sha}
		must := !in.optional && !in.withdrawn
		switch {
		case in.c.bad:
			if must {
				damaged[in.c.sha] = in.dossier
			}
		case in.dossier == "":
			if must {
				mustWait[in.c.sha] = true
			}
		default:
			allowed[pr] = true
			if must {
				meant[pr] = true
			}
		}
	}
	return meant, allowed, mustWait, damaged
}

// meantBy names the actions that meant a pair.
func (s *simSeq) meantBy(pr simPair) string {
	var via []string
	for _, in := range s.intents {
		if in.dossier != pr.dossier || in.c.sha != pr.sha {
			continue
		}
		if in.over != nil {
			via = append(via, fmt.Sprintf("action %d, saved over %s still at its name", in.via, in.over))
		} else {
			via = append(via, fmt.Sprintf("action %d", in.via))
		}
	}
	return strings.Join(slices.Compact(via), ", ")
}

// said is what the daemon logged about a content, to tell a loss it knew
// of (a duplicate removed, say) from one it never saw.
func (s *simSeq) said(sha string) string {
	s.e.logMu.Lock()
	defer s.e.logMu.Unlock()
	var msgs []string
	for _, line := range strings.Split(s.e.log.String(), "\n") {
		if !strings.Contains(line, "sha256="+sha) {
			continue
		}
		if m := simLogMsg.FindStringSubmatch(line); m != nil {
			msgs = append(msgs, fmt.Sprintf("%s (%s)", strings.Trim(m[1], `"`), strings.Trim(m[3], `"`)))
		}
	}
	if len(msgs) == 0 {
		return "the daemon never logged its sha256"
	}
	return "the daemon logged: " + strings.Join(msgs, "; ")
}

var simLogMsg = regexp.MustCompile(`msg=("[^"]*"|\S+)(.*? file=("[^"]*"|\S+))?`)
