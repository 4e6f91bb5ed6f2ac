// Package reason names why a scan was rejected or held, as a stable code for
// logs, metrics and the CLI, with the Vietnamese text that counter staff read
// in the errors and waiting folders.
//
// The set of codes is closed: metrics use them as label values, so a new code
// is a new constant here, never a formatted string.
package reason

import "strings"

// Code is a stable, machine-readable reason. The zero value means "no reason"
// (the scan is fine).
type Code string

// Rejections: the file cannot be uploaded as it is.
const (
	NotRegular Code = "not_regular" // FIFO, socket, device, symlink: not a file a scanner writes
	Empty      Code = "empty"       // zero bytes
	NotPDF     Code = "not_pdf"     // does not start like a PDF
	Unreadable Code = "unreadable"  // truncated, damaged beyond repair, or the parser gave up
	Encrypted  Code = "encrypted"   // needs a user password to open
	NoPages    Code = "no_pages"    // a PDF without a single page
	LowDPI     Code = "low_dpi"     // a page image below the configured minimum resolution
	TooLarge   Code = "too_large"   // over the configured size cap
	// ParserLimit: the isolated parser process was killed or died on the
	// file (memory, CPU time, wall-clock time, a crash): hostile or
	// pathological content, never a healthy scan.
	ParserLimit Code = "parser_limit"
	// NotColor: no page image is in colour, and check.require_color asks
	// for colour (the archives' standard; many provinces accept grey).
	NotColor Code = "not_color"
)

// Holds: the file is fine but cannot be linked to a dossier without a person.
const (
	NoCode        Code = "no_code"        // no dossier code in its name, folder or pages
	AmbiguousCode Code = "ambiguous_code" // two or more different codes
	ForeignAgency Code = "foreign_agency" // the code belongs to another unit
	CodeConflict  Code = "code_conflict"  // the name and the receipt's barcode give different codes
	Batch         Code = "batch"          // receipts in the file, but it cannot be split per dossier
	BeforeReceipt Code = "before_receipt" // the pages of a split batch before its first receipt
)

// Rejections lists every rejection code, in a stable order, so that metrics
// can create each label value at zero.
var Rejections = []Code{NotRegular, Empty, NotPDF, Unreadable, Encrypted, NoPages, LowDPI, TooLarge, ParserLimit, NotColor}

// Holds lists every hold code, in a stable order.
var Holds = []Code{NoCode, AmbiguousCode, ForeignAgency, CodeConflict, Batch, BeforeReceipt}

type text struct{ what, todo, english string }

// example stands, in the advice, for an example of a dossier code: see
// AdviceFor.
const example = "{example}"

// defaultExample is the example of a dossier code that Advice gives.
const defaultExample = "000.00.12.H57-200320-0001"

var texts = map[Code]text{
	NotRegular: {"Đây không phải là một tệp bình thường (có thể là lối tắt, thư mục đặc biệt hoặc thiết bị).",
		"Lưu bản quét thành tệp PDF bình thường vào thư mục quét.", "not a regular file"},
	Empty: {"Tệp rỗng (0 byte): máy quét chưa ghi được nội dung.",
		"Quét lại hồ sơ và lưu lại vào thư mục quét.", "file is empty"},
	NotPDF: {"Tệp không phải là PDF (có thể là ảnh hoặc tài liệu khác được đặt tên .pdf).",
		"Trên máy quét chọn định dạng lưu là PDF, rồi quét lại.", "not a PDF file"},
	Unreadable: {"Tệp PDF bị hỏng hoặc không đọc được (có thể bị cắt ngang khi lưu).",
		"Quét lại hồ sơ; nếu vẫn lỗi, báo cho cán bộ CNTT.", "PDF is truncated or unreadable"},
	Encrypted: {"Tệp PDF có đặt mật khẩu nên hệ thống không mở được.",
		"Lưu lại bản quét không đặt mật khẩu rồi đặt vào thư mục quét.", "PDF is encrypted with a user password"},
	NoPages: {"Tệp PDF không có trang nào.",
		"Quét lại hồ sơ.", "PDF has no pages"},
	LowDPI: {"Độ phân giải bản quét thấp hơn mức tối thiểu theo quy định.",
		"Chỉnh máy quét ở độ phân giải 200 dpi trở lên rồi quét lại.", "page image below the minimum resolution"},
	TooLarge: {"Tệp quá lớn so với dung lượng tối đa hệ thống cho phép.",
		"Quét lại ở chế độ xám hoặc đen trắng, hoặc tách hồ sơ thành nhiều tệp.", "file is larger than the size cap"},
	ParserLimit: {"Tệp PDF không đọc được: việc đọc tệp vượt quá giới hạn bộ nhớ hoặc thời gian cho phép (tệp hỏng hoặc có nội dung bất thường).",
		"Quét lại hồ sơ bằng máy quét và lưu thành PDF; nếu vẫn lỗi, báo cho cán bộ CNTT.", "unreadable: parser limit"},
	NotColor: {"Bản quét không có màu (chỉ có trắng đen hoặc thang xám), trong khi quy định yêu cầu quét màu.",
		"Chỉnh máy quét ở chế độ màu rồi quét lại hồ sơ.", "no page image is in colour"},
	NoCode: {"Không tìm thấy mã hồ sơ trong tên tệp hoặc tên thư mục.",
		"Đổi tên tệp trong thư mục này để có mã hồ sơ (ví dụ " + example + ".pdf); hệ thống sẽ tự tải lên.", "no dossier code found"},
	AmbiguousCode: {"Tên tệp có nhiều mã hồ sơ khác nhau nên không biết thuộc hồ sơ nào.",
		"Đổi tên tệp để chỉ còn đúng một mã hồ sơ; hệ thống sẽ tự tải lên.", "more than one dossier code"},
	ForeignAgency: {"Mã hồ sơ không thuộc đơn vị này.",
		"Kiểm tra lại mã hồ sơ và đổi tên tệp cho đúng mã của đơn vị; hệ thống sẽ tự tải lên.", "dossier code belongs to another agency"},
	CodeConflict: {"Mã hồ sơ trong tên tệp khác với mã trên phiếu tiếp nhận được quét kèm.",
		"Kiểm tra xem bản quét thuộc hồ sơ nào, rồi đổi tên tệp cho đúng mã đó; hệ thống sẽ tự tải lên.", "file name and receipt barcode disagree"},
	Batch: {"Tệp có phiếu tiếp nhận nhưng không tách được theo từng hồ sơ (một phần bị lỗi, hoặc có phiếu mang mã không hợp lệ).",
		"Quét lại, đặt phiếu tiếp nhận lên trên cùng mỗi hồ sơ (hoặc quét riêng từng hồ sơ), rồi xóa tệp này.", "receipts found but the file cannot be split per dossier"},
	BeforeReceipt: {"Các trang này đứng trước phiếu tiếp nhận đầu tiên trong một tệp quét nhiều hồ sơ nên không biết thuộc hồ sơ nào; các hồ sơ có phiếu tiếp nhận đã được tách và tải lên.",
		"Đổi tên tệp này để có mã hồ sơ của các trang này (ví dụ " + example + ".pdf); hệ thống sẽ tự tải lên. Nếu không cần, xóa tệp này.", "pages before the first receipt of a batch"},
}

// IsRejection reports whether c is a rejection (as opposed to a hold or no reason).
func (c Code) IsRejection() bool {
	for _, r := range Rejections {
		if c == r {
			return true
		}
	}
	return false
}

// Vietnamese returns what is wrong, for staff.
func (c Code) Vietnamese() string { return texts[c].what }

// Advice returns what staff should do about it, in Vietnamese, with a
// generic example of a dossier code where it gives one (AdviceFor gives the
// ward's own).
func (c Code) Advice() string { return c.AdviceFor("") }

// AdviceFor is Advice with code as its example of a dossier code (one of
// the ward's own, so that staff copy the right agency); "" gives Advice's.
func (c Code) AdviceFor(code string) string {
	if code == "" {
		code = defaultExample
	}
	return strings.ReplaceAll(texts[c].todo, example, code)
}

// AfterRescan tells staff, in a rejected file's note, what becomes of the
// file once its dossier is scanned again; known says whether the file's
// dossier code is known (then sohoa moves it out by itself).
func AfterRescan(known bool) string {
	if known {
		return "Sau khi bản quét lại của hồ sơ này được tải lên, hệ thống tự chuyển tệp này và ghi chú này vào kho lưu trữ; " +
			"cũng có thể tự xóa cả hai sau khi đã quét lại."
	}
	return "Sau khi đã quét lại hồ sơ, có thể xóa tệp này và tệp ghi chú này."
}

// English returns a short English description for logs.
func (c Code) English() string {
	if t, ok := texts[c]; ok {
		return t.english
	}
	return string(c)
}
