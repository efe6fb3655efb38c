// Command go-vectors prints golden test vectors computed by real Go, for the TypeScript ports in
// lib/billing/encoding.ts (strconv.ParseFloat / ParseInt) and lib/billing/windows.ts (time.Date,
// AddDate, Format(time.RFC3339) in the gateway's zone).
//
// Run it from the repository root and commit the output:
//
//	go run scripts/golden/go-vectors.go > tests/unit/fixtures/go-vectors.json
//
// Any Go ≥ 1.17 works (hex floats and underscores have been in strconv since 1.13; Debian's
// golang-go is enough: apt-get install -y golang-go). Time zones come from the system tz database
// (/usr/share/zoneinfo); its version is recorded in the output, because Node uses ICU's own copy
// and the tests skip any vector on which the two disagree about an offset.
//
// The output is deterministic for a given Go version and tz database.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ---- strconv ----

// piece is one part of an input too long to spell out: S repeated N times.
type piece struct {
	S string `json:"s"`
	N int    `json:"n"`
}

type floatVec struct {
	In    string  `json:"in"`
	Build []piece `json:"build,omitempty"` // when set, the input is the concatenation and In is a label
	Bits  string  `json:"bits"`            // the float64 bit pattern Go returned, 0x%016x
	Value string  `json:"value"`           // the same value, strconv.FormatFloat(f, 'g', -1, 64)
	Err   string  `json:"err,omitempty"`   // "syntax" | "range"
}

type intVec struct {
	In    string `json:"in"`
	Value string `json:"value"`
	Err   string `json:"err,omitempty"`
}

func errKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, strconv.ErrSyntax):
		return "syntax"
	case errors.Is(err, strconv.ErrRange):
		return "range"
	}
	panic(err)
}

func floatVector(label string, build []piece) floatVec {
	s := label
	if build != nil {
		var b strings.Builder
		for _, p := range build {
			b.WriteString(strings.Repeat(p.S, p.N))
		}
		s = b.String()
	}
	f, err := strconv.ParseFloat(s, 64)
	return floatVec{In: label, Build: build, Bits: fmt.Sprintf("0x%016x", math.Float64bits(f)), Value: strconv.FormatFloat(f, 'g', -1, 64), Err: errKind(err)}
}

var floatInputs = []string{
	// plain decimals, signs, dots
	"0", "-0", "+0", "1", "-1", "+1", "0.5", ".5", "5.", "-.5", "+.5", "-5.", "0.0", "-0.0", "00012", "007.50",
	"0.1", "0.2", "0.30000000000000004", "3.00000000000000000017", "12.5", "1764172800", "0.0000001", "1000000000000000000000",
	"123456789012345678901234567890", "9007199254740993", "9007199254740993.000000000000000000000000001",
	"9007199254740995", "0.1000000000000000055511151231257827021181583404541015625",
	"0.1000000000000000055511151231257827021181583404541015624", "0.1000000000000000055511151231257827021181583404541015626",
	// exponents
	"1e3", "1E3", "1.5e3", "1.5E+3", "1e+3", "1e-3", "1e03", "1e0", "-1e-7", ".5e1", "5.e1", "1e", "1e+", "1e-", "e5", "E5", "1e5x", "1ee5",
	"1e5.5", "1e+-5", "1e--5",
	// malformed shapes
	"", ".", "-", "+", "-.", "+.", "..5", "1..2", "1.2.3", "--1", "+-1", "-+1", "1-", "1+", "0b101", "0o17", "017", "1,5", "1 000",
	" 1", "1 ", "\t1", "1\n", "\n", " ", "1\x00", "١", "1٫5", "abc", "1abc", "0.5abc", "true",
	// underscores (only between digits, Go's underscoreOK)
	"1_000", "1__000", "_1000", "1000_", "1_000.5", "1_000.000_5", "1._5", "1_.5", "1e1_0", "1e_10", "1_e10", "1e+1_0", "1e+_10",
	"0_1", "-1_0", "+_1", "-_1", "1_0e+1_0", "_", "_.5", "0_", "0._1", "0_.1", "1__0", "0_0_0", "9_007_199_254_740_993",
	// hexadecimal floats
	"0x1p-2", "0x1.8p1", "0X1P-2", "0x1P+2", "-0x1p-2", "+0x1p-2", "0x1p", "0x1", "0x", "0X", "0x.p1", "0x.8p1", "0x1.p1", "0xp1",
	"0x1p+", "0x1p-", "0x1.8e1", "0x1e1p0", "0x1p1.5", "0xg", "0x1g", "0x1p0x", "0x10", "-0x", "0x0p0", "-0x0p0", "0x0.0p99999",
	"0xABCDEFp0", "0xabcdefp-24", "0x1.fffffffffffffp1023", "0x1.fffffffffffff7p1023", "0x1.fffffffffffff8p1023", "0x1p1023", "0x1p1024",
	"-0x1p1024", "0x1p-1022", "0x1p-1074", "0x1p-1075", "0x1.0000000000001p-1075", "0x1.8p-1075", "0x3p-1076", "0x1p-1076",
	"0x0.fffffffffffffp-1022", "0x0.fffffffffffff8p-1022", "0x0.fffffffffffff7p-1022", "0x1p-2000", "-0x1p-2000", "0x1p+99999999",
	"0x1p-99999999", "0x1.00000000000008p0", "0x1.00000000000018p0", "0x1.000000000000080000001p0", "0x1.00000000000007ffffffp0",
	"0x123456789abcdef0123p0", "0x123456789abcdef0000p-8", "0x8000000000000000000000001p-100", "0x0.0000000000000000000001p100",
	"0x00000000000000000000000001p0", "0x1.0p0", "0x_1p0", "0x1_p0", "0x_1_p0", "0x1_0p0", "0x1p1_0", "0x1p_10", "0x1p+1_0",
	"0_x1p0", "0x__1p0", "0x1.8_p0", "0x1._8p0", "0x.8_8p0", "0x1p0_",
	// infinities and NaN
	"inf", "Inf", "INF", "iNf", "+inf", "-inf", "+Inf", "-Inf", "infinity", "Infinity", "INFINITY", "+Infinity", "-INFINITY",
	"infin", "infinit", "infinityx", "infx", "inff", "infinityy", "in", "i", "-in", "+-inf", "1inf", "Inf ", " inf", "+", "-i",
	"nan", "NaN", "NAN", "nAn", "+nan", "-nan", "+NaN", "-NaN", "nanx", "na", "n", "nan ", "NaN0", "+Inf0",
	// overflow, underflow, subnormals
	"1e400", "-1e400", "1e308", "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "-1.7976931348623159e308",
	"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791",
	"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792",
	"1e-400", "-1e-400", "5e-324", "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
	"2.470328229206232720882538e-324", "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
	"1e-324", "3e-324", "0e999999", "0e-999999", "1e99999999999", "1e-99999999999", "1e0000000000000000000001", "1e308_0",
	"0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e100",
}

// Inputs too long to list: exponent cap (Go stops reading exponent digits once the exponent
// reaches 10000) and the slow path for more than 800 digits before the decimal point.
var floatBuilds = []struct {
	label string
	build []piece
}{
	{"0.<19999 zeros>1e20005", []piece{{"0.", 1}, {"0", 19999}, {"1e20005", 1}}},
	{"0.<100000 zeros>1e100005 (exponent read as 10000)", []piece{{"0.", 1}, {"0", 100000}, {"1e100005", 1}}},
	{"1<100000 zeros>e-100000 (exponent read as 10000)", []piece{{"1", 1}, {"0", 100000}, {"e-100000", 1}}},
	{"1<799 zeros>e-790", []piece{{"1", 1}, {"0", 799}, {"e-790", 1}}},
	{"1<900 zeros>e-890", []piece{{"1", 1}, {"0", 900}, {"e-890", 1}}},
	{"9007199254740993<700 zeros>1e-701", []piece{{"9007199254740993", 1}, {"0", 700}, {"1e-701", 1}}},
	{"9007199254740993<900 zeros>1e-901", []piece{{"9007199254740993", 1}, {"0", 900}, {"1e-901", 1}}},
	{"9007199254740993<900 zeros>e-900", []piece{{"9007199254740993", 1}, {"0", 900}, {"e-900", 1}}},
	{"9007199254740993<900 zeros>1.5e-901", []piece{{"9007199254740993", 1}, {"0", 900}, {"1.5e-901", 1}}},
	{"12345678901234567890<900 digits>e-905", []piece{{"12345678901234567890", 46}, {"e-905", 1}}},
	{"<1000 nines>e-1000", []piece{{"9", 1000}, {"e-1000", 1}}},
	// Eisel-Lemire gives up (exponent beyond 1e347), so the misplaced point of the slow path shows:
	{"1<1000 zeros>e-600 (1e400)", []piece{{"1", 1}, {"0", 1000}, {"e-600", 1}}},
	{"9007199254740993<1183 zeros>1e-784", []piece{{"9007199254740993", 1}, {"0", 1183}, {"1e-784", 1}}},
	{"9007199254740993<1184 zeros>e-784", []piece{{"9007199254740993", 1}, {"0", 1184}, {"e-784", 1}}},
	{"-9007199254740995<1183 zeros>1e-784", []piece{{"-9007199254740995", 1}, {"0", 1183}, {"1e-784", 1}}},
	{"1<2000 zeros>", []piece{{"1", 1}, {"0", 2000}}},
	{"0.<1000 zeros>", []piece{{"0.", 1}, {"0", 1000}}},
	{"<1000 zeros>1", []piece{{"0", 1000}, {"1", 1}}},
	{"1.<1000 zeros>1", []piece{{"1.", 1}, {"0", 1000}, {"1", 1}}},
	{"0x1<40 zeros>p-160", []piece{{"0x1", 1}, {"0", 40}, {"p-160", 1}}},
	{"0x1<40 zeros>1p-164", []piece{{"0x1", 1}, {"0", 40}, {"1p-164", 1}}},
	{"1_<400 times 0_>1", []piece{{"1_", 1}, {"0_", 400}, {"1", 1}}},
}

var intInputs = []string{
	"0", "-0", "+0", "1", "-1", "+1", "007", "-007", "1764172800", "-1764172800", "9007199254740993",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "18446744073709551616", "99999999999999999999", "-99999999999999999999",
	"99999999999999999999x", "-99999999999999999999x", "9223372036854775808x", "9223372036854775807x", "18446744073709551616a",
	"", "-", "+", "--1", "+-1", "-+1", " 1", "1 ", "1\n", "1.0", "1.", ".1", "1e3", "1_000", "_1", "0x10", "0b1", "0o7",
	"1a", "a", "١", "inf", "NaN", "00000000000000000000000000000000000000001", "-00000000000000000000000000000009223372036854775808",
}

// randomFloatInputs stresses rounding: exact decimal midpoints between neighbouring doubles (and
// their neighbours), random hex mantissas around the subnormal and overflow edges, underscores.
func randomFloatInputs() []string {
	r := rand.New(rand.NewSource(20261201))
	var out []string
	for i := 0; i < 120; i++ {
		f := math.Ldexp(1+r.Float64(), r.Intn(90)-20)
		next := math.Nextafter(f, math.Inf(1))
		mid := new(big.Rat).Add(new(big.Rat).SetFloat64(f), new(big.Rat).SetFloat64(next))
		mid.Quo(mid, big.NewRat(2, 1))
		s := mid.FloatString(80)
		s = strings.TrimRight(s, "0")
		out = append(out, s)
		switch i % 3 {
		case 0:
			out = append(out, s+"1")
		case 1:
			out = append(out, s[:len(s)-1]+string(s[len(s)-1]-1)+"9999")
		case 2:
			out = append(out, s+"e0")
		}
	}
	hexDigits := "0123456789abcdefABCDEF"
	for i := 0; i < 150; i++ {
		var b strings.Builder
		if r.Intn(4) == 0 {
			b.WriteByte('-')
		}
		b.WriteString("0x")
		n := 1 + r.Intn(22)
		dot := r.Intn(n + 1)
		for j := 0; j < n; j++ {
			if j == dot && r.Intn(2) == 0 {
				b.WriteByte('.')
			}
			b.WriteByte(hexDigits[r.Intn(len(hexDigits))])
		}
		var e int
		switch r.Intn(3) {
		case 0:
			e = -1160 + r.Intn(120) // subnormal and underflow
		case 1:
			e = 940 + r.Intn(100) // overflow edge
		default:
			e = r.Intn(200) - 100
		}
		fmt.Fprintf(&b, "p%+d", e)
		out = append(out, b.String())
	}
	for i := 0; i < 60; i++ {
		digits := strconv.FormatUint(r.Uint64(), 10)
		var b strings.Builder
		for j := 0; j < len(digits); j++ {
			if j > 0 && r.Intn(4) == 0 {
				b.WriteByte('_')
				if r.Intn(6) == 0 {
					b.WriteByte('_')
				}
			}
			b.WriteByte(digits[j])
			if j == 3 && r.Intn(2) == 0 {
				b.WriteByte('.')
			}
		}
		if r.Intn(3) == 0 {
			fmt.Fprintf(&b, "e%d", r.Intn(40)-20)
		}
		out = append(out, b.String())
	}
	return out
}

// ---- time ----

type timeVec struct {
	Zone            string     `json:"zone"`
	Now             int64      `json:"now"` // Unix ms
	StartOfDay      int64      `json:"startOfDay"`
	StartOfWeek     int64      `json:"startOfWeek"`
	NextDailyReset  int64      `json:"nextDailyReset"`
	NextWeeklyReset int64      `json:"nextWeeklyReset"`
	DailyRFC3339    string     `json:"nextDailyResetRfc3339"`
	WeeklyRFC3339   string     `json:"nextWeeklyResetRfc3339"`
	MonthRFC3339    string     `json:"nowPlus30dRfc3339"`
	Probes          [][2]int64 `json:"probes"` // [Unix seconds, Go's UTC offset in seconds] for every instant Go looked up
}

var zones = []string{
	"Asia/Shanghai", "America/New_York", "America/Havana", "America/Sao_Paulo", "Europe/London",
	"Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago", "Pacific/Apia", "Africa/Casablanca",
}

// extraWindows adds the transitions of named periods: Sao Paulo's last midnight DST changes and
// the day Samoa skipped (2011-12-30 does not exist in Pacific/Apia).
var extraWindows = map[string][][2]time.Time{
	"America/Sao_Paulo": {{time.Date(2018, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)}},
	"Pacific/Apia":      {{time.Date(2011, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)}},
}

// The gateway's functions (backend/internal/pkg/timezone, billing_cache_service.go), with the zone
// passed in instead of read from the global.
func startOfDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

func startOfWeek(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	weekday := int(t.Weekday())
	if weekday == 0 {
		weekday = 7
	}
	return time.Date(t.Year(), t.Month(), t.Day()-weekday+1, 0, 0, 0, 0, loc)
}

func offsetAt(unix int64, loc *time.Location) int64 {
	_, off := time.Unix(unix, 0).In(loc).Zone()
	return int64(off)
}

// probes lists the instants whose offset Go consulted: t itself (t.In(loc) for Date/Clock/Format)
// and, for a time built by time.Date from t's wall clock, the wall clock read as UTC and that
// minus its offset (time.Date's two lookups).
type prober struct {
	loc  *time.Location
	seen map[int64]bool
	out  [][2]int64
}

func (p *prober) add(unix int64) {
	if !p.seen[unix] {
		p.seen[unix] = true
		p.out = append(p.out, [2]int64{unix, offsetAt(unix, p.loc)})
	}
}

func (p *prober) date(y int, m time.Month, d, h, mi, s int) {
	unix := time.Date(y, m, d, h, mi, s, 0, time.UTC).Unix()
	p.add(unix)
	if off := offsetAt(unix, p.loc); off != 0 {
		p.add(unix - off)
	}
}

func timeVector(zone string, loc *time.Location, nowMs int64) timeVec {
	now := time.UnixMilli(nowMs).In(loc)
	sod := startOfDay(now, loc)
	sow := startOfWeek(now, loc)
	nextDay := sod.AddDate(0, 0, 1)
	nextWeek := sow.AddDate(0, 0, 7)
	month := now.Add(30 * 24 * time.Hour)

	p := &prober{loc: loc, seen: map[int64]bool{}}
	p.add(now.Unix())
	y, m, d := now.Date()
	wd := int(now.Weekday())
	if wd == 0 {
		wd = 7
	}
	p.date(y, m, d, 0, 0, 0)
	p.date(y, m, d-wd+1, 0, 0, 0)
	for _, t := range []struct {
		base time.Time
		days int
	}{{sod, 1}, {sow, 7}} {
		p.add(t.base.Unix())
		by, bm, bd := t.base.Date()
		hh, mm, ss := t.base.Clock()
		p.date(by, bm, bd+t.days, hh, mm, ss)
	}
	p.add(nextDay.Unix())
	p.add(nextWeek.Unix())
	p.add(month.Unix())

	return timeVec{
		Zone: zone, Now: nowMs,
		StartOfDay: sod.UnixMilli(), StartOfWeek: sow.UnixMilli(),
		NextDailyReset: nextDay.UnixMilli(), NextWeeklyReset: nextWeek.UnixMilli(),
		DailyRFC3339: nextDay.Format(time.RFC3339), WeeklyRFC3339: nextWeek.Format(time.RFC3339),
		MonthRFC3339: month.Format(time.RFC3339),
		Probes:       p.out,
	}
}

// transitions returns the offset changes of loc in [from, to), to the second.
func transitions(loc *time.Location, from, to time.Time) []int64 {
	var out []int64
	prev := offsetAt(from.Unix(), loc)
	for t := from.Unix(); t < to.Unix(); t += 3600 {
		if off := offsetAt(t+3600, loc); off != prev {
			lo, hi := t, t+3600 // offset(lo) == prev, offset(hi) != prev
			for hi-lo > 1 {
				mid := lo + (hi-lo)/2
				if offsetAt(mid, loc) == prev {
					lo = mid
				} else {
					hi = mid
				}
			}
			out = append(out, hi)
			prev = off
		}
	}
	return out
}

// firstInstantOfDate is the first Unix second whose local date in loc is the date of wall.
func firstInstantOfDate(loc *time.Location, approx int64) int64 {
	y, m, d := time.Unix(approx, 0).In(loc).Date()
	target := y*10000 + int(m)*100 + d
	key := func(u int64) int {
		yy, mm, dd := time.Unix(u, 0).In(loc).Date()
		return yy*10000 + int(mm)*100 + dd
	}
	lo, hi := approx-2*86400, approx // key(lo) < target <= key(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if key(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func instantsFor(loc *time.Location) []int64 {
	set := map[int64]bool{}
	addMs := func(ms int64) { set[ms] = true }
	aroundMidnight := func(unix int64) {
		first := firstInstantOfDate(loc, unix)
		addMs(first*1000 - 1)
		addMs(first * 1000)
	}
	var tx []int64
	tx = append(tx, transitions(loc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))...)
	hist := transitions(loc, time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(hist) == 0 {
		hist = transitions(loc, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	// A few historical transitions: prefer those whose day has a missing or repeated midnight.
	sort.SliceStable(hist, func(i, j int) bool { return midnightScore(loc, hist[i]) > midnightScore(loc, hist[j]) })
	if len(hist) > 2 {
		hist = hist[:2]
	}
	tx = append(tx, hist...)
	for _, w := range extraWindows[loc.String()] {
		tx = append(tx, transitions(loc, w[0], w[1])...)
	}
	for _, t := range tx {
		for _, d := range []int64{0, 3600, 86400} {
			addMs((t + d) * 1000)
		}
		addMs(t*1000 - 1)
		aroundMidnight(t)
		aroundMidnight(t + 86400)
	}
	// Month and year ends, a leap day, Sunday → Monday, in local time.
	for _, w := range []struct{ y, m, d int }{{2026, 12, 31}, {2027, 1, 1}, {2026, 1, 31}, {2026, 2, 1}, {2028, 2, 29}, {2028, 3, 1}, {2026, 11, 29}, {2026, 11, 30}} {
		noon := time.Date(w.y, time.Month(w.m), w.d, 12, 0, 0, 0, loc).Unix()
		aroundMidnight(noon)
		addMs(noon * 1000)
	}
	out := make([]int64, 0, len(set))
	for ms := range set {
		out = append(out, ms)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// midnightScore ranks a transition: 2 when it removes or repeats a local midnight, 1 when it is
// within a day of one, else 0.
func midnightScore(loc *time.Location, t int64) int {
	before := time.Unix(t-1, 0).In(loc)
	after := time.Unix(t, 0).In(loc)
	if before.Day() != after.Day() || after.Hour() == 0 || before.Hour() == 23 {
		return 2
	}
	return 0
}

func tzdataVersion() string {
	b, err := os.ReadFile("/usr/share/zoneinfo/tzdata.zi")
	if err != nil {
		return "unknown"
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	return strings.TrimPrefix(line, "# version ")
}

func main() {
	var floats []floatVec
	for _, s := range floatInputs {
		floats = append(floats, floatVector(s, nil))
	}
	for _, b := range floatBuilds {
		floats = append(floats, floatVector(b.label, b.build))
	}
	for _, s := range randomFloatInputs() {
		floats = append(floats, floatVector(s, nil))
	}

	var ints []intVec
	for _, s := range intInputs {
		n, err := strconv.ParseInt(s, 10, 64)
		ints = append(ints, intVec{In: s, Value: strconv.FormatInt(n, 10), Err: errKind(err)})
	}

	var times []timeVec
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			panic(err)
		}
		for _, ms := range instantsFor(loc) {
			times = append(times, timeVector(zone, loc, ms))
		}
	}

	// One vector per line, so that a regenerated fixture diffs readably.
	w := os.Stdout
	header := func(key string, v any, last bool) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(w, " %q: %s", key, b)
		if !last {
			fmt.Fprint(w, ",")
		}
		fmt.Fprintln(w)
	}
	list := func(key string, n int, at func(int) any, last bool) {
		fmt.Fprintf(w, " %q: [\n", key)
		for i := 0; i < n; i++ {
			b, err := json.Marshal(at(i))
			if err != nil {
				panic(err)
			}
			sep := ","
			if i == n-1 {
				sep = ""
			}
			fmt.Fprintf(w, "  %s%s\n", b, sep)
		}
		fmt.Fprint(w, " ]")
		if !last {
			fmt.Fprint(w, ",")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "{")
	header("generatedBy", "go run scripts/golden/go-vectors.go > tests/unit/fixtures/go-vectors.json", false)
	header("go", runtime.Version(), false)
	header("tzdata", tzdataVersion(), false)
	list("parseFloat", len(floats), func(i int) any { return floats[i] }, false)
	list("parseInt", len(ints), func(i int) any { return ints[i] }, false)
	list("time", len(times), func(i int) any { return times[i] }, true)
	fmt.Fprintln(w, "}")
}
