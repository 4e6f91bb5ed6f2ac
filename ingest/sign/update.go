package sign

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
)

// object is one object of the incremental update: its number and its body
// (what goes between "N 0 obj" and "endobj").
type object struct {
	num  int
	gen  int
	body []byte
}

// prevXRef finds the offset of the last cross-reference section from the
// file's final startxref, and whether it is a cross-reference stream.
func prevXRef(pdf []byte) (offset int64, isStream bool, err error) {
	tail := pdf[max(0, len(pdf)-1024):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, false, errors.New("no startxref at the end of the file")
	}
	fields := bytes.Fields(tail[i+len("startxref"):])
	if len(fields) == 0 {
		return 0, false, errors.New("startxref without an offset")
	}
	offset, err = strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil || offset < 0 || offset >= int64(len(pdf)) {
		return 0, false, fmt.Errorf("startxref offset %q", fields[0])
	}
	at := pdf[offset:]
	switch {
	case bytes.HasPrefix(at, []byte("xref")):
		return offset, false, nil
	case objHeader.Match(at[:min(len(at), 64)]):
		return offset, true, nil
	}
	return 0, false, fmt.Errorf("startxref %d points at neither an xref table nor an object", offset)
}

var objHeader = regexp.MustCompile(`^\d+\s+\d+\s+obj\b`)

// appendUpdate appends to pdf an incremental update holding objs, with a
// cross-reference section of the kind the file already uses (a table, or a
// stream numbered xrefNum), whose trailer carries the previous trailer's
// entries (trailer, without its delimiters) and /Prev.
func appendUpdate(pdf []byte, objs []object, size int, trailer string, prev int64, stream bool, xrefNum int) []byte {
	var b bytes.Buffer
	b.Grow(len(pdf) + 64*1024)
	b.Write(pdf)
	if len(pdf) > 0 && pdf[len(pdf)-1] != '\n' && pdf[len(pdf)-1] != '\r' {
		b.WriteByte('\n')
	}
	offsets := map[int]int{}
	gens := map[int]int{}
	for _, o := range objs {
		offsets[o.num] = b.Len()
		gens[o.num] = o.gen
		fmt.Fprintf(&b, "%d %d obj\n", o.num, o.gen)
		b.Write(o.body)
		b.WriteString("\nendobj\n")
	}
	start := b.Len()
	if !stream {
		b.WriteString("xref\n")
		for _, run := range runs(offsets) {
			fmt.Fprintf(&b, "%d %d\n", run[0], len(run))
			for _, n := range run {
				fmt.Fprintf(&b, "%010d %05d n\r\n", offsets[n], gens[n])
			}
		}
		fmt.Fprintf(&b, "trailer\n<<%s/Size %d/Prev %d>>\nstartxref\n%d\n%%%%EOF\n", trailer, size, prev, start)
		return b.Bytes()
	}
	offsets[xrefNum] = start
	var index bytes.Buffer
	var rows []byte
	for _, run := range runs(offsets) {
		fmt.Fprintf(&index, "%d %d ", run[0], len(run))
		for _, n := range run {
			o := offsets[n]
			rows = append(rows, 1, byte(o>>24), byte(o>>16), byte(o>>8), byte(o), byte(gens[n]>>8), byte(gens[n]))
		}
	}
	fmt.Fprintf(&b, "%d 0 obj\n<<%s/Type/XRef/Size %d/Prev %d/W[1 4 2]/Index[%s]/Length %d>>\nstream\n",
		xrefNum, trailer, size, prev, bytes.TrimSpace(index.Bytes()), len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", start)
	return b.Bytes()
}

// runs groups object numbers into runs of consecutive numbers, ascending.
func runs(offsets map[int]int) [][]int {
	nums := make([]int, 0, len(offsets))
	for n := range offsets {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	var out [][]int
	for _, n := range nums {
		if l := len(out); l > 0 && out[l-1][len(out[l-1])-1] == n-1 {
			out[l-1] = append(out[l-1], n)
			continue
		}
		out = append(out, []int{n})
	}
	return out
}
