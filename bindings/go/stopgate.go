// SPDX-License-Identifier: Apache-2.0

// Package stopgate is the pre-send opt-out and consent check of libstopgate,
// in process, over the public header stopgate.h (cgo).
//
// An *Engine is safe for concurrent use by any number of goroutines,
// Close included: Close waits for the calls in progress and later calls
// return ErrClosed. A number that does not parse is not an error of Check: it
// is a deny with Reason "invalid_number". Errors of the library are *Error
// values carrying its code and sg_strerror text; errors.Is matches them
// against ErrLocked, ErrNoStore, ... .
package stopgate

/*
#cgo LDFLAGS: -lstopgate
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stopgate.h>

*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Purpose is what a message is for (sg_purpose).
type Purpose int

const (
	Message       Purpose = C.SG_PURPOSE_MESSAGE
	OptOutConfirm Purpose = C.SG_PURPOSE_OPTOUT_CONFIRM
	HelpReply     Purpose = C.SG_PURPOSE_HELP_REPLY
	OptInConfirm  Purpose = C.SG_PURPOSE_OPTIN_CONFIRM
)

// Field says what a normalized field may hold (sg_field).
type Field int

const (
	FieldAny     Field = C.SG_FIELD_ANY     // a phone number; letters are an error
	FieldAddress Field = C.SG_FIELD_ADDRESS // numbers, short codes, alphanumeric sender IDs
	FieldNumber  Field = C.SG_FIELD_NUMBER  // vanity letters read as keypad digits
)

// Verdict says whether a message may be sent (sg_verdict). Reason and Scope
// are the library's names ("opted_out", "sender", "quiet_hours",
// "frequency_cap", ...), "" when allowed.
//
// The last five fields are set by CheckWith / CheckBatchWith with options
// (sg_check_ex, as GET /v1/check answers): Category is the category the
// check resolved ("" when none applied); Region ("US-FL") and TZ
// ("America/New_York") when a quiet-hours rule covers the number;
// NextAllowed and Rule with Reason "quiet_hours" or "frequency_cap"
// (NextAllowed zero: no window opens within 400 days).
type Verdict struct {
	Allow        bool
	Reason       string
	Scope        string
	ScopeID      string
	Since        time.Time // when the deciding state began; zero if none
	Seq          uint64    // the event that set it, 0 if none
	Confirmation bool      // allowed only as the one confirmation / HELP reply
	Category     string
	Region       string
	TZ           string
	NextAllowed  time.Time // quiet_hours / frequency_cap: the earliest instant the same check allows
	Rule         string    // the rule file and statute, or "FL", "OK", "MD", "maxPerDay"
}

// Classification says what an inbound text means (sg_classification).
type Classification struct {
	Intent     string // "opt_out", "opt_in", "help", "none"
	Confidence string // "exact", "phrase", "probable", "none"
	Lang       string
	Rule       string
	Reply      string
}

// Options for Open. The zero value opens read-only.
type Options struct {
	Writable       bool   // take the writer lock (one process at a time)
	Create         bool   // with Writable: make a new store when the directory holds none
	KeywordsDir    string // "": the installed keyword set
	DefaultCountry string // last-resort country for national numbers, e.g. "US"
	QuietHoursDir  string // the quiet-hours rules; "": the installed set; "none": no quiet hours
}

// Categories are the names CheckOptions.Category takes (sg_category).
var Categories = []string{"marketing", "informational", "transactional", "conversational"}

// CheckOptions for CheckWith and CheckBatchWith (sg_check_opts). Category:
// one of Categories, "" for the sender's campaign's usecase, else the
// policy's; At: the instant the message would be sent (zero: now);
// Campaign: the frequency caps' subject ("": the sender's campaign).
type CheckOptions struct {
	Purpose  Purpose
	Category string
	At       time.Time
	Campaign string
}

func (o *CheckOptions) plain() bool { return o.Category == "" && o.At.IsZero() && o.Campaign == "" }

// Engine is an open consent store (sg_engine).
type Engine struct {
	mu     sync.RWMutex // read: every call; write: Close
	h      *C.sg_engine
	Dir    string
	closed bool
}

var reasons, scopes []string

func init() {
	for i := 0; i < 16; i++ {
		if s := C.sg_reason_name(C.sg_reason(i)); s != nil {
			reasons = append(reasons, C.GoString(s))
		} else {
			reasons = append(reasons, "")
		}
	}
	for i := 0; i < 6; i++ {
		scopes = append(scopes, C.GoString(C.sg_scope_name(C.sg_scope_kind(i))))
	}
	scopes[0] = ""
}

// LibraryVersion is the version of the libstopgate loaded, e.g. "0.1.0".
func LibraryVersion() string { return C.GoString(C.sg_version()) }

// Open opens the store in dataDir; opts nil opens it read-only, beside the
// daemon that writes.
func Open(dataDir string, opts *Options) (*Engine, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Create && !o.Writable {
		return nil, &Error{Code: -int(C.EINVAL), Op: "open " + dataDir, Msg: "Create needs Writable"}
	}
	var co C.sg_options
	co.size = C.size_t(unsafe.Sizeof(co)) // this binding's size: a newer library sees an older caller
	cdir := C.CString(dataDir)
	defer C.free(unsafe.Pointer(cdir))
	co.data_dir = cdir
	if !o.Writable {
		co.flags |= C.SG_OPEN_RDONLY
	}
	if o.Create {
		co.flags |= C.SG_OPEN_CREATE
	}
	if o.KeywordsDir != "" {
		k := C.CString(o.KeywordsDir)
		defer C.free(unsafe.Pointer(k))
		co.keywords_dir = k
	}
	if o.DefaultCountry != "" {
		c := C.CString(o.DefaultCountry)
		defer C.free(unsafe.Pointer(c))
		co.default_country = c
	}
	if o.QuietHoursDir != "" {
		q := C.CString(o.QuietHoursDir)
		defer C.free(unsafe.Pointer(q))
		co.quiet_hours_dir = q
	}
	var h *C.sg_engine
	if rc := C.sg_engine_open(&co, &h); rc != 0 {
		return nil, newError(rc, "open "+dataDir)
	}
	return &Engine{h: h, Dir: dataDir}, nil
}

// Close closes the engine after the calls in progress; closing again is a no-op.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		C.sg_engine_close(e.h)
		e.h = nil
		e.closed = true
	}
	return nil
}

// ReadOnly tells whether the engine was opened read-only.
func (e *Engine) ReadOnly() (bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return false, ErrClosed
	}
	return bool(C.sg_engine_readonly(e.h)), nil
}

// cstr2 copies two strings into one NUL-separated C-compatible Go buffer.
func cstr2(a, b string) ([]byte, int) {
	buf := make([]byte, len(a)+len(b)+2)
	copy(buf, a)
	copy(buf[len(a)+1:], b)
	return buf, len(a) + 1
}

func verdictOf(v *C.sg_verdict) Verdict {
	out := Verdict{Allow: bool(v.allow), Seq: uint64(v.seq), Confirmation: bool(v.confirmation)}
	if r := int(v.reason); r >= 0 && r < len(reasons) {
		out.Reason = reasons[r]
	} else {
		out.Reason = fmt.Sprintf("reason_%d", r)
	}
	if s := int(v.scope); s >= 0 && s < len(scopes) {
		out.Scope = scopes[s]
	}
	if v.scope_id[0] != 0 {
		out.ScopeID = C.GoString(&v.scope_id[0])
	}
	if v.since_us != 0 {
		out.Since = time.UnixMicro(int64(v.since_us)).UTC()
	}
	return out
}

// Check answers whether from may send to now; both raw, normalized by the library.
func (e *Engine) Check(from, to string, purpose Purpose) (Verdict, error) {
	buf, off := cstr2(from, to)
	var v C.sg_verdict
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return Verdict{Reason: "check_failed"}, ErrClosed
	}
	rc := C.sg_check(e.h, (*C.char)(unsafe.Pointer(&buf[0])), (*C.char)(unsafe.Pointer(&buf[off])),
		C.sg_purpose(purpose), &v)
	e.mu.RUnlock()
	if rc != 0 {
		return verdictOf(&v), newError(rc, "check")
	}
	if v.allow && !v.confirmation {
		return Verdict{Allow: true}, nil
	}
	return verdictOf(&v), nil
}

// CheckWith is Check with options: with none but Purpose it is Check;
// else sg_check_ex, which adds quiet hours and frequency caps (see Verdict).
func (e *Engine) CheckWith(from, to string, o CheckOptions) (Verdict, error) {
	if o.plain() {
		return e.Check(from, to, o.Purpose)
	}
	vs, err := e.checkEx("check", from, []string{to}, &o)
	if err != nil {
		return Verdict{Reason: "check_failed"}, err
	}
	return vs[0], nil
}

// CheckBatchWith is CheckBatch with options (one sg_check_ex call).
func (e *Engine) CheckBatchWith(from string, to []string, o CheckOptions) ([]Verdict, error) {
	if o.plain() {
		return e.CheckBatch(from, to, o.Purpose)
	}
	return e.checkEx("check_batch", from, to, &o)
}

func categoryCode(name string) (C.sg_category, error) {
	for i, c := range Categories {
		if c == name {
			return C.sg_category(i + 1), nil
		}
	}
	if name == "" || name == "none" {
		return C.SG_CATEGORY_DEFAULT, nil
	}
	return 0, &Error{Code: -int(C.EINVAL), Name: "EINVAL", Op: "check",
		Msg: fmt.Sprintf("category %q: one of %s (or \"\": the sender's campaign's usecase decides)",
			name, strings.Join(Categories, ", "))}
}

// cStrings copies strs into one C block: the pointer array, then the
// strings (no Go memory holds a pointer handed to C). The caller frees it.
func cStrings(strs []string) unsafe.Pointer {
	n := len(strs)
	bytes := 0
	for _, t := range strs {
		bytes += len(t) + 1
	}
	psize := n * int(unsafe.Sizeof((*C.char)(nil)))
	block := C.malloc(C.size_t(psize + bytes))
	if block == nil {
		return nil
	}
	ptrs := unsafe.Slice((**C.char)(block), n)
	data := unsafe.Slice((*byte)(unsafe.Add(block, psize)), bytes)
	off := 0
	for i, t := range strs {
		copy(data[off:], t)
		data[off+len(t)] = 0
		ptrs[i] = (*C.char)(unsafe.Pointer(&data[off]))
		off += len(t) + 1
	}
	return block
}

func (e *Engine) checkEx(op, from string, to []string, o *CheckOptions) ([]Verdict, error) {
	var opts C.sg_check_opts
	C.sg_check_opts_init(&opts, C.size_t(unsafe.Sizeof(opts))) // this binding's size
	opts.purpose = C.sg_purpose(o.Purpose)
	cat, err := categoryCode(o.Category)
	if err != nil {
		return nil, err
	}
	opts.category = cat
	if !o.At.IsZero() {
		us := o.At.UnixMicro()
		if us <= 0 {
			return nil, &Error{Code: -int(C.EINVAL), Name: "EINVAL", Op: op,
				Msg: fmt.Sprintf("At %s is not after 1970-01-01T00:00:00Z", o.At.Format(time.RFC3339))}
		}
		opts.at_us = C.int64_t(us)
	}
	if o.Campaign != "" {
		c := C.CString(o.Campaign)
		defer C.free(unsafe.Pointer(c))
		opts.campaign = c
	}
	n := len(to)
	if n == 0 {
		return []Verdict{}, nil
	}
	block := cStrings(to)
	if block == nil {
		return nil, newError(-C.ENOMEM, op)
	}
	defer C.free(block)
	cv := (*C.sg_verdict)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.sg_verdict{}))))
	cq := (*C.sg_quiet)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.sg_quiet{}))))
	defer C.free(unsafe.Pointer(cv))
	defer C.free(unsafe.Pointer(cq))
	if cv == nil || cq == nil {
		return nil, newError(-C.ENOMEM, op)
	}
	cfrom := C.CString(from)
	defer C.free(unsafe.Pointer(cfrom))
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return nil, ErrClosed
	}
	rc := C.sg_check_ex(e.h, cfrom, (**C.char)(block), C.size_t(n), &opts, cv, cq)
	e.mu.RUnlock()
	if rc != 0 {
		return nil, newError(rc, op)
	}
	out := make([]Verdict, n)
	vs, qs := unsafe.Slice(cv, n), unsafe.Slice(cq, n)
	for i := range vs {
		out[i] = verdictOf(&vs[i])
		quietOf(&out[i], &vs[i], &qs[i])
	}
	return out, nil
}

// quietOf adds the quiet-hours and cap fields as GET /v1/check shows them.
func quietOf(out *Verdict, v *C.sg_verdict, q *C.sg_quiet) {
	if q.category == C.SG_CATEGORY_DEFAULT {
		return
	}
	if s := C.sg_category_name(q.category); s != nil {
		out.Category = C.GoString(s)
	}
	if q.evaluated {
		out.Region = C.GoString(&q.region[0])
		out.TZ = C.GoString(&q.tz[0])
	}
	held := v.reason == C.SG_REASON_FREQUENCY_CAP || (v.reason == C.SG_REASON_QUIET_HOURS && bool(q.evaluated))
	if bool(v.allow) || !held {
		return
	}
	if q.next_allowed_us != 0 {
		out.NextAllowed = time.UnixMicro(int64(q.next_allowed_us)).UTC()
	}
	out.Rule = C.GoString(&q.rule[0])
}

// CheckBatch checks one sender against many recipients in one snapshot:
// out[i] is the verdict for to[i]. A batch never grants the one confirmation.
func (e *Engine) CheckBatch(from string, to []string, purpose Purpose) ([]Verdict, error) {
	n := len(to)
	if n == 0 {
		return []Verdict{}, nil
	}
	block := cStrings(to)
	if block == nil {
		return nil, newError(-C.ENOMEM, "check_batch")
	}
	defer C.free(block)
	cv := (*C.sg_verdict)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.sg_verdict{}))))
	if cv == nil {
		return nil, newError(-C.ENOMEM, "check_batch")
	}
	defer C.free(unsafe.Pointer(cv))
	cfrom := C.CString(from)
	defer C.free(unsafe.Pointer(cfrom))
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return nil, ErrClosed
	}
	rc := C.sg_check_batch(e.h, cfrom, (**C.char)(block), C.size_t(n), C.sg_purpose(purpose), cv)
	e.mu.RUnlock()
	if rc != 0 {
		return nil, newError(rc, "check_batch")
	}
	out := make([]Verdict, n)
	vs := unsafe.Slice(cv, n)
	for i := range vs {
		out[i] = verdictOf(&vs[i])
	}
	return out, nil
}

// Classify says what an inbound text means; campaign "" for none.
func (e *Engine) Classify(text, campaign string) (Classification, error) {
	var out C.sg_classification
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	var ccamp *C.char
	if campaign != "" {
		ccamp = C.CString(campaign)
		defer C.free(unsafe.Pointer(ccamp))
	}
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return Classification{}, ErrClosed
	}
	rc := C.sg_classify(e.h, ccamp, ctext, C.size_t(len(text)), &out)
	e.mu.RUnlock()
	if rc != 0 {
		return Classification{}, newError(rc, "classify")
	}
	return Classification{
		Intent:     C.GoString(C.sg_intent_name(out.intent)),
		Confidence: C.GoString(C.sg_confidence_name(out.confidence)),
		Lang:       C.GoString(&out.lang[0]),
		Rule:       C.GoString(&out.rule[0]),
		Reply:      C.GoString(&out.reply[0]),
	}, nil
}

// Normalize reduces a number, short code or sender ID to its canonical key
// ("+14155552671", "sc:US:72345", "aid:mybrand"); country ("" for none)
// reads national numbers. It never guesses: ErrNumber / ErrNoCountry.
func Normalize(number, country string, field Field) (string, error) {
	var out [C.SG_KEY_MAX]C.char
	cn := C.CString(number)
	defer C.free(unsafe.Pointer(cn))
	var cc *C.char
	if country != "" {
		if len(country) != 2 {
			return "", &Error{Code: -int(C.EINVAL), Name: "EINVAL", Op: "normalize",
				Msg: fmt.Sprintf("country %q is not an ISO 3166 alpha-2 code (e.g. \"US\")", country)}
		}
		cc = C.CString(strings.ToUpper(country))
		defer C.free(unsafe.Pointer(cc))
	}
	if rc := C.sg_number_normalize(cn, C.size_t(len(number)), cc, C.sg_field(field), &out[0], nil); rc != 0 {
		return "", newError(rc, fmt.Sprintf("normalize %q", number))
	}
	return C.GoString(&out[0]), nil
}

// CountryOf is the ISO country of a canonical key ("+44..." -> "GB"), "" if unknown.
func CountryOf(key string) string {
	var cc [3]C.char
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	if C.sg_number_country(ck, &cc[0]) != 0 {
		return ""
	}
	return C.GoString(&cc[0])
}

// Normalize is the package Normalize with this engine's default country
// when country is "".
func (e *Engine) Normalize(number, country string, field Field) (string, error) {
	if country == "" {
		e.mu.RLock()
		if e.closed {
			e.mu.RUnlock()
			return "", ErrClosed
		}
		if cc := C.sg_engine_default_country(e.h); cc != nil {
			country = C.GoString(cc)
		}
		e.mu.RUnlock()
	}
	return Normalize(number, country, field)
}
