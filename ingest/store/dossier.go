package store

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Dossier is what the store knows of one dossier code.
type Dossier struct {
	Code      string    `json:"code"`
	FirstSeen time.Time `json:"first_seen"`
	Digitized time.Time `json:"digitized,omitzero"` // first confirmed upload of a scan of it
	Scans     int       `json:"scans"`
}

// Dossier returns what is known of a dossier code, or ErrNotFound.
func (s *Store) Dossier(code string) (Dossier, error) {
	var d Dossier
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bDossiers).Get([]byte(code))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &d)
	})
	return d, err
}

func getDossier(tx *bolt.Tx, code string, seen time.Time) Dossier {
	d := Dossier{Code: code, FirstSeen: seen}
	if v := tx.Bucket(bDossiers).Get([]byte(code)); v != nil {
		_ = json.Unmarshal(v, &d)
	}
	return d
}
