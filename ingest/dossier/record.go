package dossier

import "time"

// Record is one dossier as the registry lists it: what a ward's export (or
// the province's search API) says of it. The zero Record is no dossier.
type Record struct {
	// Line is where the row is in the file as a spreadsheet shows it: the
	// 1-based line of a CSV record (where it starts) or the row number of an
	// XLSX sheet.
	Line int
	// Code is the dossier code in canonical form (Canonical).
	Code string
	// Received is the registry's received date, in ICT; midnight when the
	// export gives no time of day.
	Received time.Time
	// Due and Returned are the due date ("Hạn xử lý", "Hạn trả kết quả") and
	// the day the result was returned ("Ngày trả kết quả"), in ICT. The zero
	// time means the export has no such column or the cell is empty (not yet
	// returned).
	Due, Returned time.Time
	// Procedure and Status are the procedure name ("Thủ tục") and the
	// dossier's status ("Trạng thái") as exported, NFC; "" when absent.
	Procedure, Status string
}
