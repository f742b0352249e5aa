// SPDX-License-Identifier: Apache-2.0

package stopgate

import (
	"bufio"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	sender = "+14155550100"
	out    = "+14155552671" // opted out of sender
	other  = "+14155552672" // no record
	global = "+442071838750"
)

func root() string {
	if r := os.Getenv("SG_SOURCE_ROOT"); r != "" {
		return r
	}
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

func bin() string {
	if b := os.Getenv("STOPGATE_BIN"); b != "" {
		return b
	}
	if b := filepath.Join(root(), "build", "engine", "stopgate"); fileExists(b) {
		return b
	}
	return "stopgate"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// sg runs the real stopgate binary on dir.
func sg(t testing.TB, dir string, args ...string) {
	t.Helper()
	args = append(args, "--data", dir)
	if k := filepath.Join(root(), "keywords"); fileExists(k) {
		args = append(args, "--keywords", k)
	}
	if o, err := exec.Command(bin(), args...).CombinedOutput(); err != nil {
		t.Fatalf("stopgate %v: %v\n%s", args, err, o)
	}
}

func store(t testing.TB) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "store")
	sg(t, d, "init")
	sg(t, d, "optout", sender, out)
	sg(t, d, "optout", "--scope", "global", "-", global)
	return d
}

func open(t testing.TB, dir string) *Engine {
	t.Helper()
	e, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOptedOutPairIsDeniedWithTheLibrarysNames(t *testing.T) {
	e := open(t, store(t))
	defer e.Close()
	v, err := e.Check(sender, "(415) 555-2671", Message)
	if err != nil {
		t.Fatal(err)
	}
	if v.Allow || v.Reason != "opted_out" || v.Scope != "sender" || v.ScopeID != sender || v.Seq != 1 {
		t.Fatalf("verdict %+v", v)
	}
	if d := time.Since(v.Since); d < 0 || d > 24*time.Hour {
		t.Fatalf("since %v", v.Since)
	}
	v, _ = e.Check("+14155550199", global, Message)
	if v.Allow || v.Scope != "global" {
		t.Fatalf("global block: %+v", v)
	}
}

func TestPairWithoutRecordIsAllowedAndJunkDenied(t *testing.T) {
	e := open(t, store(t))
	defer e.Close()
	if v, err := e.Check(sender, other, Message); err != nil || !v.Allow || v.Reason != "" {
		t.Fatalf("%+v %v", v, err)
	}
	if v, err := e.Check(sender, "not a number", Message); err != nil || v.Allow || v.Reason != "invalid_number" {
		t.Fatalf("%+v %v", v, err)
	}
	if v, _ := e.Check(sender, out, OptOutConfirm); v.Allow {
		t.Fatalf("read-only engine granted a confirmation: %+v", v)
	}
}

func TestBatchIsOneVerdictPerRecipientInOrder(t *testing.T) {
	e := open(t, store(t))
	defer e.Close()
	vs, err := e.CheckBatch(sender, []string{other, out, "", "junk", global}, Message)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "opted_out", "invalid_number", "invalid_number", "opted_out"}
	for i, v := range vs {
		if v.Reason != want[i] || v.Allow != (want[i] == "") {
			t.Fatalf("%d: %+v, want %q", i, v, want[i])
		}
	}
	if vs, err := e.CheckBatch(sender, nil, Message); err != nil || len(vs) != 0 {
		t.Fatal(vs, err)
	}
}

const florida = "+13055550123" // Miami (305): US-FL, America/New_York

// 22:00 EST on Dec 1 in Miami
var night = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

func openQuiet(t *testing.T) *Engine {
	t.Helper()
	// this checkout's rules, not whatever is installed
	e, err := Open(store(t), &Options{QuietHoursDir: filepath.Join(root(), "quiet-hours")})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMarketingAtAQuietHourIsHeldUntilTheWindowOpens(t *testing.T) {
	e := openQuiet(t)
	defer e.Close()
	o := CheckOptions{Category: "marketing", At: night}
	v, err := e.CheckWith(sender, florida, o)
	if err != nil {
		t.Fatal(err)
	}
	if v.Allow || v.Reason != "quiet_hours" || v.Category != "marketing" || v.Region != "US-FL" ||
		v.TZ != "America/New_York" || !strings.HasPrefix(v.Rule, "us-fl.qh") {
		t.Fatalf("%+v", v)
	}
	if want := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC); !v.NextAllowed.Equal(want) {
		t.Fatalf("next allowed %v, want %v", v.NextAllowed, want)
	}
	vs, err := e.CheckBatchWith(sender, []string{florida, other, out}, o)
	if err != nil || len(vs) != 3 {
		t.Fatal(vs, err)
	}
	if vs[0] != v {
		t.Fatalf("batch %+v, single %+v", vs[0], v)
	}
	// 19:00 in San Francisco is inside California's hours; the opt-out still comes first
	if !vs[1].Allow || vs[1].Region != "US-CA" || !vs[1].NextAllowed.IsZero() {
		t.Fatalf("%+v", vs[1])
	}
	if vs[2].Reason != "opted_out" || vs[2].Rule != "" {
		t.Fatalf("%+v", vs[2])
	}
}

func TestInformationalAtTheSameHourIsAllowed(t *testing.T) {
	e := openQuiet(t)
	defer e.Close()
	v, err := e.CheckWith(sender, florida, CheckOptions{Category: "informational", At: night})
	if err != nil || !v.Allow || v.Reason != "" || v.Category != "informational" || v.Region != "US-FL" ||
		!v.NextAllowed.IsZero() || v.Rule != "" {
		t.Fatal(v, err)
	}
	// no option but Purpose: the plain check, no category applies
	if v, err := e.CheckWith(sender, out, CheckOptions{}); err != nil || v.Reason != "opted_out" || v.Category != "" {
		t.Fatal(v, err)
	}
}

func TestBadCategoryIsRefusedNamingTheAllowedOnes(t *testing.T) {
	e := openQuiet(t)
	defer e.Close()
	_, err := e.CheckWith(sender, florida, CheckOptions{Category: "promo", At: night})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "marketing, informational, transactional, conversational") {
		t.Fatal(err)
	}
	if _, err := e.CheckBatchWith(sender, []string{florida}, CheckOptions{Category: "promo"}); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

// The binding records no sends: bindings/testdata/record_sends.py records
// them through the library (sg_sends_record), as a gateway's report would.
func TestFourthMarketingSendInADayToFloridaIsCappedPerCampaign(t *testing.T) {
	dir := store(t)
	script := filepath.Join(root(), "bindings", "testdata", "record_sends.py")
	if o, err := exec.Command("python3", script, dir, sender, florida, "CAMP001",
		"2026-11-03T14:00:00Z", "2026-11-03T15:00:00Z", "2026-11-03T16:00:00Z").CombinedOutput(); err != nil {
		t.Fatalf("record_sends: %v\n%s", err, o)
	}
	e, err := Open(dir, &Options{QuietHoursDir: filepath.Join(root(), "quiet-hours")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	noon := time.Date(2026, 11, 3, 17, 0, 0, 0, time.UTC) // 12:00 EST: not quiet
	o := CheckOptions{Category: "marketing", At: noon, Campaign: "CAMP001"}
	v, err := e.CheckWith(sender, florida, o)
	if err != nil || v.Allow || v.Reason != "frequency_cap" || v.Rule != "FL" {
		t.Fatal(v, err)
	}
	if want := time.Date(2026, 11, 4, 14, 0, 0, 0, time.UTC); !v.NextAllowed.Equal(want) { // the first send + 24 h
		t.Fatalf("next allowed %v, want %v", v.NextAllowed, want)
	}
	if vs, err := e.CheckBatchWith(sender, []string{florida}, o); err != nil || vs[0] != v {
		t.Fatal(vs, err)
	}
	o.Campaign = "CAMP002"
	if v, err := e.CheckWith(sender, florida, o); err != nil || !v.Allow {
		t.Fatal("another subject is not capped:", v, err)
	}
	o.Campaign, o.Category = "CAMP001", "informational"
	if v, err := e.CheckWith(sender, florida, o); err != nil || !v.Allow {
		t.Fatal("informational is never capped:", v, err)
	}
}

func TestClassify(t *testing.T) {
	e := open(t, store(t))
	defer e.Close()
	c, err := e.Classify("STOP", "")
	if err != nil || c.Intent != "opt_out" || c.Confidence != "exact" || c.Lang != "en" || c.Reply == "" {
		t.Fatalf("%+v %v", c, err)
	}
	if c, _ := e.Classify("see you at 5", ""); c.Intent != "none" {
		t.Fatalf("%+v", c)
	}
	if _, err := e.Classify("\xff\xfe stop", ""); !errors.Is(err, ErrUTF8) {
		t.Fatal(err)
	}
}

func TestNormalize(t *testing.T) {
	if k, err := Normalize("(415) 555-2671", "us", FieldAny); err != nil || k != "+14155552671" {
		t.Fatal(k, err)
	}
	if k, err := Normalize("MyBrand", "", FieldAddress); err != nil || k != "aid:mybrand" {
		t.Fatal(k, err)
	}
	_, err := Normalize("4155552671", "", FieldAny)
	var se *Error
	if !errors.Is(err, ErrNoCountry) || !errors.As(err, &se) || se.Name != "SG_ENOCOUNTRY" || se.Msg == "" {
		t.Fatalf("%#v", err)
	}
	if _, err := Normalize("hello there", "", FieldAny); !errors.Is(err, ErrNumber) {
		t.Fatal(err)
	}
	if CountryOf("+442071838750") != "GB" || CountryOf("aid:x") != "" {
		t.Fatal("CountryOf")
	}
}

func TestEngineNormalizeUsesItsDefaultCountry(t *testing.T) {
	e, err := Open(store(t), &Options{DefaultCountry: "GB"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if k, err := e.Normalize("020 7183 8750", "", FieldAny); err != nil || k != "+442071838750" {
		t.Fatal(k, err)
	}
	if k, err := e.Normalize("(415) 555-2671", "US", FieldAny); err != nil || k != "+14155552671" {
		t.Fatal(k, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "none"), nil)
	if !errors.Is(err, ErrNoStore) || !strings.Contains(err.Error(), "stopgate init") {
		t.Fatalf("%v", err)
	}
	d := filepath.Join(dir, "new")
	w, err := Open(d, &Options{Writable: true, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro, _ := w.ReadOnly(); ro {
		t.Fatal("writable engine says read-only")
	}
	// the CLI cannot write while this process holds the writer lock
	args := []string{"optout", sender, out, "--data", d}
	if o, err := exec.Command(bin(), args...).CombinedOutput(); err == nil || !strings.Contains(string(o), "in use") {
		t.Fatalf("second writer: %v %s", err, o)
	}
	r := open(t, d) // a reader beside the writer
	if v, _ := r.Check(sender, out, Message); !v.Allow {
		t.Fatalf("%+v", v)
	}
	r.Close()
	w.Close()
	if _, err := Open(d, &Options{Create: true}); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}

func TestReaderSeesLaterOptOut(t *testing.T) {
	d := filepath.Join(t.TempDir(), "s")
	sg(t, d, "init")
	e := open(t, d)
	defer e.Close()
	if v, _ := e.Check(sender, other, Message); !v.Allow {
		t.Fatal(v)
	}
	sg(t, d, "optout", sender, other)
	if v, _ := e.Check(sender, other, Message); v.Allow || v.Reason != "opted_out" {
		t.Fatal(v)
	}
}

func TestConcurrentChecksAndClose(t *testing.T) {
	e := open(t, store(t))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				a, errA := e.Check(sender, out, Message)
				b, errB := e.Check(sender, other, Message)
				if errors.Is(errA, ErrClosed) || errors.Is(errB, ErrClosed) {
					if a.Allow || b.Allow {
						errs <- "allowed after close"
					}
					return
				}
				if a.Allow || a.Reason != "opted_out" || !b.Allow || errA != nil || errB != nil {
					errs <- "wrong verdict"
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	e.Close() // waits for calls in progress; later ones get ErrClosed
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Fatal(s)
	}
	if _, err := e.Check(sender, out, Message); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	e.Close()
}

func TestLibraryVersion(t *testing.T) {
	if strings.Count(LibraryVersion(), ".") != 2 {
		t.Fatal(LibraryVersion())
	}
}

// BenchmarkCheck: one Check per op. With STOPGATE_BENCH_DIR (a store) and
// STOPGATE_BENCH_QUERIES (bench_check's check_paths.txt), it reads the same
// query pool as the C benchmark (scripts/bench.sh); else a small store.
func BenchmarkCheck(b *testing.B) {
	dir := os.Getenv("STOPGATE_BENCH_DIR")
	type q struct{ from, to string }
	var qs []q
	if dir == "" {
		dir = store(b)
		qs = []q{{sender, out}, {sender, other}}
	} else {
		f, err := os.Open(os.Getenv("STOPGATE_BENCH_QUERIES"))
		if err != nil {
			b.Fatal(err)
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			u, err := url.Parse(s.Text())
			if err != nil {
				b.Fatal(err)
			}
			qs = append(qs, q{u.Query().Get("from"), u.Query().Get("to")})
		}
		f.Close()
	}
	e := open(b, dir)
	defer e.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &qs[i%len(qs)]
		if _, err := e.Check(p.from, p.to, Message); err != nil {
			b.Fatal(err)
		}
	}
}

// The README's example, pointed at a test store, prints what its comments say.
func TestReadmeExample(t *testing.T) {
	text, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	start := strings.Index(s, "```go\n") + len("```go\n")
	code := s[start : start+strings.Index(s[start:], "```")]
	var want []string
	for _, line := range strings.Split(code, "\n") {
		if i := strings.Index(line, "fmt.Println("); i >= 0 {
			want = append(want, strings.TrimSpace(line[strings.Index(line, "//")+2:]))
		}
	}
	dir := t.TempDir()
	code = strings.Replace(code, "/var/lib/stopgate", store(t), 1)
	wd, _ := os.Getwd()
	mod := "module example\n\ngo 1.19\n\nrequire stopgate.dev/stopgate v0.0.0\n\nreplace stopgate.dev/stopgate => " + wd + "\n"
	if os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644) != nil ||
		os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644) != nil {
		t.Fatal("write")
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	o, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	if got := strings.TrimSpace(string(o)); got != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}
