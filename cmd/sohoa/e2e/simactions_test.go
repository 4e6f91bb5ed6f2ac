package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The staff simulator's people and scanners: what each action does to the
// inbox, and what the simulator then expects (simulator_test.go checks it).

// simKind is one thing a person or a scanner does.
type simKind int

const (
	simSave          simKind = iota // a new scan saved under a name with a code
	simSaveUncoded                  // a new scan saved with no code in its name
	simSaveOver                     // a new scan saved over a name used before
	simSameBytes                    // bytes saved before, saved again under a code (another or the same)
	simSaveSlowly                   // a new scan written in place in chunks
	simScanner                      // a scanner writing its fixed name in place
	simSaveBad                      // a damaged file saved under a code
	simRenameWaiting                // a waiting file renamed to contain a code (the README's way to link it)
	simRenameNoCode                 // a waiting file renamed to another name without a code
	simMoveToFolder                 // a waiting file moved into a folder named with a code
	simDelete                       // a file deleted from a staff folder, with or without its note
	simDeleteNote                   // a note deleted from a staff folder, its file left
	simKill                         // kill -9 of the daemon
	simStart                        // the daemon started again
)

var simKindNames = [...]string{"save", "save-uncoded", "save-over", "same-bytes", "save-slowly", "scanner",
	"save-bad", "rename-waiting", "rename-nocode", "move-to-folder", "delete", "delete-note", "kill -9", "start"}

// simWeights are the odds of each kind in a sequence (kill and start are
// placed apart).
var simWeights = map[simKind]int{simSave: 18, simSaveUncoded: 8, simSaveOver: 8, simSameBytes: 12, simSaveSlowly: 5,
	simScanner: 8, simSaveBad: 3, simRenameWaiting: 8, simRenameNoCode: 2, simMoveToFolder: 4, simDelete: 3, simDeleteNote: 2}

// simAction is one planned action. Every random choice is made when the
// sequence is planned, so that a seed replays the same plan; pick chooses
// among what is there when the action runs.
type simAction struct {
	kind  simKind
	delay time.Duration // slept before it
	code  int           // which of the sequence's codes
	form  int           // which name form
	pick  uint64
	flag  bool // save: written in place, not renamed in; delete: the note too
}

// simContent is one distinct content a sequence made.
type simContent struct {
	id  int
	b   []byte
	sha string
	bad bool // damaged: never uploadable
}

func (c *simContent) String() string { return fmt.Sprintf("c%d(%.8s)", c.id, c.sha) }

// simIntent is what a person meant by one file: its content for a dossier,
// or, with no dossier, to wait for a code.
type simIntent struct {
	c       *simContent
	dossier string
	// optional: saved over or deleted while it may not have been taken yet,
	// so it may arrive or not, but not twice and nowhere else.
	optional bool
	// withdrawn: a person deleted it; it must not arrive.
	withdrawn bool
	via       int // the action that meant it
	// over is what was still at its name when it was saved there.
	over *simContent
}

// plan draws a sequence of n actions, with a kill -9 (and a start a few
// actions later) in about half the sequences.
func simPlan(rng *rand.Rand, n int) []simAction {
	total := 0
	for _, w := range simWeights {
		total += w
	}
	kinds := make([]simKind, 0, len(simWeights))
	for k := range simWeights {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds) // map order is random; the plan must not be
	var acts []simAction
	for range n {
		pick := rng.IntN(total)
		k := kinds[0]
		for _, k = range kinds {
			if pick < simWeights[k] {
				break
			}
			pick -= simWeights[k]
		}
		acts = append(acts, simAction{kind: k, delay: simDelay(rng), code: rng.IntN(3), form: rng.IntN(3),
			pick: rng.Uint64(), flag: rng.IntN(2) == 0})
	}
	for kills := 0; kills < 2 && rng.IntN(2) == 0; kills++ {
		at := rng.IntN(len(acts) + 1)
		back := min(at+rng.IntN(4), len(acts))
		acts = slices.Insert(acts, back, simAction{kind: simStart})
		acts = slices.Insert(acts, at, simAction{kind: simKill, delay: simDelay(rng)})
	}
	return acts
}

// simDelay is the pause before an action: none (two saves at once), about
// the watcher's quiet time (a file being taken), or longer.
func simDelay(rng *rand.Rand) time.Duration {
	switch rng.IntN(4) {
	case 0:
		return 0
	case 1:
		return time.Duration(30+rng.IntN(90)) * time.Millisecond
	default:
		return time.Duration(rng.IntN(400)) * time.Millisecond
	}
}

// act runs one action and logs what it did.
func (s *simSeq) act(i int, a simAction) {
	time.Sleep(a.delay)
	code := s.codes[a.code]
	n := len(s.contents)
	var did string
	switch a.kind {
	case simSave, simSaveSlowly:
		rel := []string{
			fmt.Sprintf("%s trang %d.pdf", code, n),
			fmt.Sprintf("HS %s %d.pdf", code, n),
			fmt.Sprintf("%s/trang %d.pdf", code, n),
		}[a.form]
		how := simRename
		if a.kind == simSaveSlowly {
			how = simSlow
		} else if a.flag {
			how = simInPlace
		}
		did = s.save(i, rel, s.newContent(a.form, false), code, how)
	case simSaveUncoded:
		did = s.save(i, fmt.Sprintf("scan_%04d.pdf", n), s.newContent(2, false), "", simRename)
	case simSaveOver:
		used := slices.Sorted(maps.Keys(s.paths))
		if len(used) == 0 {
			did = "nothing saved yet"
			break
		}
		rel := used[a.pick%uint64(len(used))]
		dossier, form := s.paths[rel].dossier, a.form
		if dossier == "" {
			form = 2 // no receipt on it: it waits, as the one it replaces
		}
		how := simRename
		if a.flag {
			how = simInPlace
		}
		did = s.save(i, rel, s.newContent(form, false), dossier, how)
	case simSameBytes:
		var good []*simContent
		for _, c := range s.contents {
			if !c.bad {
				good = append(good, c)
			}
		}
		if len(good) == 0 {
			did = "nothing saved yet"
			break
		}
		c := good[a.pick%uint64(len(good))]
		rel := []string{
			fmt.Sprintf("%s CCCD %d.pdf", code, n),
			fmt.Sprintf("%s/ban sao %d.pdf", code, n),
			fmt.Sprintf("%s.pdf", code),
		}[a.form]
		did = s.save(i, rel, c, code, simRename)
	case simScanner:
		rel, dossier, form := "SCAN0001.pdf", "", 2
		if a.form != 0 {
			rel, dossier, form = code+"/SCAN0001.pdf", code, 0
		}
		did = s.save(i, rel, s.newContent(form, false), dossier, simInPlace)
	case simSaveBad:
		did = s.save(i, fmt.Sprintf("%s hong %d.pdf", code, n), s.newContent(0, true), code, simRename)
	case simRenameWaiting, simRenameNoCode, simMoveToFolder:
		did = s.moveWaiting(i, a, code)
	case simDelete, simDeleteNote:
		did = s.deleteStaff(a)
	case simKill:
		if s.e.cmd == nil {
			did = "already down"
			break
		}
		s.e.kill()
		s.kills++
		s.checkDatabase("after the kill").Close()
	case simStart:
		if s.e.cmd != nil {
			did = "already up"
			break
		}
		s.e.start()
	}
	s.log = append(s.log, fmt.Sprintf("%2d +%dms %s: %s", i, a.delay.Milliseconds(), simKindNames[a.kind], did))
}

// newContent makes a distinct content: a corpus scan with a line appended
// after its %%EOF (still a valid PDF, another SHA-256), or a damaged one.
func (s *simSeq) newContent(form int, bad bool) *simContent {
	base := s.samples.coded[form%len(s.samples.coded)]
	switch {
	case bad:
		base = s.samples.bad
	case form == 2:
		base = s.samples.uncoded
	}
	id := len(s.contents)
	b := append(slices.Clip(base), fmt.Sprintf("%%sohoa-sim %d %d\n", s.idx, id)...)
	sum := sha256.Sum256(b)
	c := &simContent{id: id, b: b, sha: hex.EncodeToString(sum[:]), bad: bad}
	s.contents = append(s.contents, c)
	return c
}

// simWrite is how a file is saved.
type simWrite int

const (
	simRename  simWrite = iota // written under a hidden name, then renamed in (most programs)
	simInPlace                 // created or truncated where it lands and written at once
	simSlow                    // written where it lands in chunks, pausing well under watch.quiet
)

// save writes c at rel under the inbox, meant for dossier ("" to wait for a
// code). A file still at rel is saved over: what it held may or may not
// have been taken by then.
func (s *simSeq) save(i int, rel string, c *simContent, dossier string, how simWrite) string {
	p := filepath.Join(s.e.inbox, filepath.FromSlash(rel))
	did := fmt.Sprintf("%s -> %s", c, rel)
	in := &simIntent{c: c, dossier: dossier, via: i}
	if prev := s.paths[rel]; prev != nil && fileExistsAt(p) {
		prev.optional = true
		in.over = prev.c
		did += fmt.Sprintf(" (over %s, still there)", prev.c)
	}
	var gap time.Duration
	write := func() (err error) {
		switch how {
		case simRename:
			tmp := filepath.Join(filepath.Dir(p), ".writing-"+filepath.Base(p))
			if err := os.WriteFile(tmp, c.b, 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, p)
		case simInPlace:
			return os.WriteFile(p, c.b, 0o644)
		default:
			gap, err = writeSlowly(p, c.b)
			return err
		}
	}
	for tries := 1; ; tries++ {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.t.Fatal(err)
		}
		err := write()
		if err == nil {
			break
		}
		// The daemon removes a code folder once it is empty: one made for
		// this file may go before the file is in it, as a clerk's would.
		if !errors.Is(err, fs.ErrNotExist) || tries == 5 {
			s.t.Fatal(err)
		}
		did += " (its folder vanished; saved again)"
	}
	switch how {
	case simInPlace:
		did += " in place"
	case simSlow:
		did += fmt.Sprintf(" slowly (longest gap %v)", gap.Round(time.Millisecond))
		if gap >= simQuiet {
			// The writer paused as long as the watcher waits: a half-written
			// file may rightly be taken. Anything it becomes is excused here.
			s.stalled[dossier] = true
			did += ", stalled past watch.quiet"
		}
	}
	s.intents = append(s.intents, in)
	s.paths[rel] = in
	return did
}

// writeSlowly writes b at p in 16 chunks 5 ms apart, and returns the
// longest time between two writes (a loaded machine may stretch it).
func writeSlowly(p string, b []byte) (time.Duration, error) {
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	var longest time.Duration
	last := time.Now()
	step := len(b)/16 + 1
	for off := 0; off < len(b); off += step {
		if off > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := f.Write(b[off:min(off+step, len(b))]); err != nil {
			f.Close()
			return 0, err
		}
		longest = max(longest, time.Since(last))
		last = time.Now()
	}
	return longest, f.Close()
}

// staffFiles lists the files (or the notes) in a staff folder, sorted;
// not the hidden ones (the daemon's notes being written), which clerks do
// not see.
func (s *simSeq) staffFiles(folder string, notes bool) []string {
	entries, _ := os.ReadDir(filepath.Join(s.e.inbox, folder))
	var out []string
	for _, ent := range entries {
		if !ent.IsDir() && !strings.HasPrefix(ent.Name(), ".") && strings.HasSuffix(ent.Name(), ".txt") == notes {
			out = append(out, path.Join(folder, ent.Name()))
		}
	}
	return out
}

// moveWaiting renames a file in the waiting folder to contain a code, to
// another name without one, or moves it into a folder named with a code.
func (s *simSeq) moveWaiting(i int, a simAction, code string) string {
	files := s.staffFiles(simWaiting, false)
	if len(files) == 0 {
		return "no file waits"
	}
	rel := files[a.pick%uint64(len(files))]
	p := filepath.Join(s.e.inbox, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("%s: %v", rel, err) // taken meanwhile
	}
	c := s.contentOf(b)
	base := path.Base(rel)
	var to, dossier string
	switch a.kind {
	case simRenameWaiting:
		// A clerk who corrects a code replaces it: a name with two codes
		// is held as ambiguous, which is another action's business.
		named := base
		for _, other := range s.codes {
			named = strings.ReplaceAll(named, other+" ", "")
		}
		to, dossier = path.Join(simWaiting, code+" "+named), code
	case simRenameNoCode:
		to = path.Join(simWaiting, fmt.Sprintf("ho so ba Lan %d.pdf", i))
	case simMoveToFolder:
		to, dossier = path.Join(code, base), code
		// A code in the file's own name wins over its folder's (the
		// README's linking order): a file renamed before is meant for
		// the code its name carries.
		for _, named := range s.codes {
			if strings.Contains(base, named) {
				dossier = named
			}
		}
	}
	q := filepath.Join(s.e.inbox, filepath.FromSlash(to))
	if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(p, q); err != nil {
		return fmt.Sprintf("%s: %v", rel, err)
	}
	for _, in := range s.intents {
		if in.c == c && in.dossier == "" {
			// No longer meant to wait where it was: meant for the
			// dossier, or to wait under its new name (the intent below).
			in.withdrawn = true
		}
	}
	if prev := s.paths[rel]; prev != nil && prev.c == c {
		switch {
		case prev.dossier == dossier:
			prev.withdrawn = true // the same wish, now under the new name
		case prev.dossier != "":
			// Renamed again before the daemon took its last name, or
			// just after: the code the name carried may arrive or not.
			prev.optional = true
		}
	}
	in := &simIntent{c: c, dossier: dossier, via: i}
	s.intents = append(s.intents, in)
	s.paths[to] = in
	return fmt.Sprintf("%s %s -> %s", c, rel, to)
}

// deleteStaff deletes a file from a staff folder (and its note, or not),
// or only a note.
func (s *simSeq) deleteStaff(a simAction) string {
	notes := a.kind == simDeleteNote
	files := append(s.staffFiles(simErrors, notes), s.staffFiles(simWaiting, notes)...)
	if len(files) == 0 {
		return "nothing in the staff folders"
	}
	rel := files[a.pick%uint64(len(files))]
	p := filepath.Join(s.e.inbox, filepath.FromSlash(rel))
	if notes {
		if err := os.Remove(p); err != nil {
			return fmt.Sprintf("%s: %v", rel, err)
		}
		s.notesDeleted[strings.TrimSuffix(rel, ".txt")] = true
		return rel
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("%s: %v", rel, err)
	}
	c := s.contentOf(b)
	if err := os.Remove(p); err != nil {
		return fmt.Sprintf("%s: %v", rel, err)
	}
	did := fmt.Sprintf("%s %s", c, rel)
	if a.flag {
		os.Remove(p + ".txt")
		did += " and its note"
	}
	// The person gave it up: it must not wait or be uploaded any more
	// (what was meant for a dossier may have arrived there already).
	for _, in := range s.intents {
		if in.c == c {
			if in.dossier == "" || in.c.bad {
				in.withdrawn = true
			} else {
				in.optional = true
			}
		}
	}
	return did
}

// contentOf returns the content with these bytes, made known if the daemon
// made them (a file the simulator never wrote).
func (s *simSeq) contentOf(b []byte) *simContent {
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	for _, c := range s.contents {
		if c.sha == sha {
			return c
		}
	}
	c := &simContent{id: len(s.contents), b: b, sha: sha}
	s.contents = append(s.contents, c)
	return c
}
