package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// Where a registry entry came from.
const (
	SourceImport = "import" // a CSV or XLSX export imported with `sohoa import`
	SourcePull   = "pull"   // the provincial system's search API
	SourceScan   = "scan"   // no registry entry: known only from a scan (never stored as such)
)

var bRegistry = []byte("registry")

// Entry is the registry's record of one dossier: what the provincial system
// says of it. Times are as the source gave them (Vietnam time).
type Entry struct {
	Code      string    `json:"code"`
	Received  time.Time `json:"received"`
	Due       time.Time `json:"due,omitzero"`
	Returned  time.Time `json:"returned,omitzero"`
	Procedure string    `json:"procedure,omitempty"`
	Status    string    `json:"status,omitempty"`
	Source    string    `json:"source"`
	Updated   time.Time `json:"updated"` // when this record last changed
}

// sameData reports whether two entries say the same of their dossier
// (source and update time aside).
func sameData(a, b Entry) bool {
	return a.Code == b.Code && a.Received.Equal(b.Received) && a.Due.Equal(b.Due) &&
		a.Returned.Equal(b.Returned) && a.Procedure == b.Procedure && a.Status == b.Status
}

// RegistryStats says what PutRegistry did with the rows it was given.
type RegistryStats struct {
	Added     int `json:"added"`     // codes the registry did not have
	Updated   int `json:"updated"`   // codes whose data changed
	Unchanged int `json:"unchanged"` // codes already recorded with the same data
}

// PutRegistry records rows of the registry (an imported export, or what the
// provincial system's search API returned) in one transaction: a new code is
// added, a code whose data changed is updated (with source and at), one
// whose data is the same is left alone, so that the same rows again change
// nothing. source is SourceImport or SourcePull. Rows must carry a code and
// a received date (registry.Parse guarantees both); a row without is an
// error and nothing is recorded. Codes of other agencies are kept as given:
// readers leave them out (see Received).
func (s *Store) PutRegistry(rows []dossier.Record, source string, at time.Time) (RegistryStats, error) {
	var st RegistryStats
	if source != SourceImport && source != SourcePull {
		return st, fmt.Errorf("registry: unknown source %q", source)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bRegistry)
		if err != nil {
			return err
		}
		for _, r := range rows {
			code := dossier.Canonical(r.Code)
			if code == "" || r.Received.IsZero() {
				return fmt.Errorf("registry row %d: no code or no received date", r.Line)
			}
			e := Entry{Code: code, Received: r.Received, Due: r.Due, Returned: r.Returned,
				Procedure: r.Procedure, Status: r.Status, Source: source, Updated: at}
			if v := b.Get([]byte(code)); v != nil {
				var old Entry
				if err := json.Unmarshal(v, &old); err != nil {
					return fmt.Errorf("registry entry %s: %w", code, err)
				}
				if sameData(old, e) {
					st.Unchanged++
					continue
				}
				st.Updated++
			} else {
				st.Added++
			}
			if err := putJSON(tx, bRegistry, []byte(code), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return RegistryStats{}, fmt.Errorf("record registry rows: %w", err)
	}
	return st, nil
}

// Entry returns the registry's record of a code, or ErrNotFound.
func (s *Store) Entry(code string) (Entry, error) {
	var e Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRegistry)
		if b == nil {
			return ErrNotFound
		}
		v := b.Get([]byte(code))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &e)
	})
	return e, err
}

// ReceivedDossier is one dossier a ward received, as the report counts it.
type ReceivedDossier struct {
	Entry
	// Digitized is when a scan of it was first confirmed uploaded; zero if
	// never.
	Digitized time.Time
}

// Received is the ward's received dossiers in one read transaction: every
// registry entry, and every dossier known only from a scan (its name, folder
// or receipt; rejected and held scans too), received on the YYMMDD in its
// code (Source SourceScan; a code without such a date has a zero Received). A dossier's Digitized comes from its scans.
// Dossiers whose agency is not ward (another agency's codes, imported or
// linked with link.accept_foreign) are not in list; their codes are in
// foreign, sorted. An empty ward takes every dossier.
//
// Metrics call it at every scrape: the answer is kept and given again while
// no transaction has been committed since.
func (s *Store) Received(ward string) (list []ReceivedDossier, foreign []string, err error) {
	own := func(code string) bool {
		return ward == "" || strings.EqualFold(dossier.Agency(code), ward)
	}
	var txid int
	err = s.db.View(func(tx *bolt.Tx) error {
		txid = tx.ID() // a read transaction's ID is that of the last commit it sees
		if r, ok := s.received.get(txid, ward); ok {
			list, foreign = slices.Clone(r.list), slices.Clone(r.foreign)
			return errCached
		}
		ds := tx.Bucket(bDossiers)
		reg := tx.Bucket(bRegistry)
		if reg != nil {
			err := reg.ForEach(func(k, v []byte) error {
				var d ReceivedDossier
				if err := json.Unmarshal(v, &d.Entry); err != nil {
					return fmt.Errorf("registry entry %s: %w", k, err)
				}
				if !own(d.Code) {
					foreign = append(foreign, d.Code)
					return nil
				}
				if dv := ds.Get(k); dv != nil {
					var sd Dossier
					if err := json.Unmarshal(dv, &sd); err != nil {
						return fmt.Errorf("dossier %s: %w", k, err)
					}
					d.Digitized = sd.Digitized
				}
				list = append(list, d)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return ds.ForEach(func(k, v []byte) error {
			if reg != nil && reg.Get(k) != nil {
				return nil
			}
			var sd Dossier
			if err := json.Unmarshal(v, &sd); err != nil {
				return fmt.Errorf("dossier %s: %w", k, err)
			}
			if !own(sd.Code) {
				foreign = append(foreign, sd.Code)
				return nil
			}
			d := ReceivedDossier{Entry: Entry{Code: sd.Code, Source: SourceScan, Updated: sd.FirstSeen}, Digitized: sd.Digitized}
			d.Received, _ = dossier.Received(sd.Code, dossier.ICT())
			list = append(list, d)
			return nil
		})
	})
	if errors.Is(err, errCached) {
		return list, foreign, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read received dossiers: %w", err)
	}
	slices.Sort(foreign)
	s.received.put(txid, ward, received{slices.Clone(list), slices.Clone(foreign)})
	return list, foreign, nil
}

var errCached = errors.New("cached")

// received is Received's answer, kept in Store.received.
type received struct {
	list    []ReceivedDossier
	foreign []string
}
