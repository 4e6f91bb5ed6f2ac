// Package pdfdoc opens PDFs the way sohoa does: pdfcpu configured in code,
// never touching the user's home, with resource limits; and reads page
// geometry and page images' sizes.
//
// The configuration is built here rather than by
// model.NewDefaultConfiguration, which would create a configuration directory
// under the user's home (denied under systemd's ProtectHome). No pdfcpu
// package variable is changed.
package pdfdoc

import (
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Options are what differs between sohoa's uses of pdfcpu.
type Options struct {
	// MaxStream caps the encoded bytes of one stream read from a file (no
	// stream is larger than the file: its size is the natural cap). When
	// set, the limits for reading untrusted files apply too: decoded
	// object and xref streams up to 128 MiB, up to 1,000,000 objects and
	// cross-reference entries. 0 keeps all of pdfcpu's default limits, for
	// documents sohoa builds itself.
	MaxStream int64

	// ClassicXRef makes written files use a classic cross-reference table
	// and no object streams, as scanners write, with no compression work.
	// false: object and cross-reference streams (pdfcpu's default).
	ClassicXRef bool

	// Cmd is the pdfcpu command the configuration is for.
	Cmd model.CommandMode
}

// Config returns a fresh pdfcpu configuration (pdfcpu writes to it while
// working, so never share one). It mirrors pdfcpu's built-in defaults
// without touching the configuration directory.
func Config(o Options) *model.Configuration {
	rl := model.DefaultResourceLimits()
	if o.MaxStream > 0 {
		rl.MaxStreamBytes = o.MaxStream
		rl.MaxDecodeBytes = 128 << 20 // object and xref streams; images are bounded by their readers
		rl.MaxObjectCount = 1_000_000
		rl.MaxXRefEntries = 1_000_000
	}
	return &model.Configuration{
		Version:                   model.VersionStr,
		Reader15:                  true,
		ValidationMode:            model.ValidationRelaxed,
		UnsupportedResourcePolicy: model.UnsupportedResourceSkip,
		Eol:                       types.EolLF,
		WriteObjectStream:         !o.ClassicXRef,
		WriteXRefStream:           !o.ClassicXRef,
		EncryptUsingAES:           true,
		EncryptKeyLength:          256,
		Permissions:               model.PermissionsPrint,
		TimestampFormat:           "2006-01-02 15:04",
		DateFormat:                "2006-01-02",
		Offline:                   true,
		Cmd:                       o.Cmd,
		Limits:                    rl,
	}
}
