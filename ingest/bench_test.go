package ingest

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkIngest takes realistic scans through copy, hash, fsync, check,
// link and record, as the daemon does for each file (upload excluded).
// MB/s is of scan bytes.
func BenchmarkIngest(b *testing.B) {
	names := []string{"000.00.12.H57-200320-0001.pdf", "HS 000.00.12.H57-200320-0002 to khai.pdf"}
	var total int64
	for _, n := range names {
		info, err := os.Stat(filepath.Join(samples, n))
		if err != nil {
			b.Fatal(err)
		}
		total += info.Size()
	}
	f := newFixture(b)
	b.SetBytes(total / int64(len(names)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		name := names[i%len(names)]
		src, _ := os.ReadFile(filepath.Join(samples, name))
		src = append(src, []byte("%"+string(rune('a'+i%26))+filepath.Base(b.TempDir())+"\n")...)
		p := filepath.Join(f.inbox, name)
		os.WriteFile(p, src, 0o640)
		b.StartTimer()
		if err := f.ingest(name); err != nil {
			b.Fatal(err)
		}
	}
}
