package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as aligned tables: the scenarios, the baselines, the
// efficiency ratios, then the notes.
func (rep *Report) WriteTable(w io.Writer) error {
	m := rep.Machine
	fmt.Fprintf(w, "target:   %s\n", rep.Target)
	fmt.Fprintf(w, "machine:  %d CPUs (GOMAXPROCS %d), %s, %s/%s, %s\n", m.CPUs, m.GOMAXPROCS, cmp.Or(m.CPU, "unknown CPU"), m.OS, m.Arch, m.Go)
	fmt.Fprintf(w, "run:      %s per scenario, concurrency %d; chain_delete users hold %d documents\n", rep.Duration, rep.Concurrency, rep.DeleteDocs)
	fmt.Fprintf(w, "seeded:   %d users, %d linked IDs, %d sessions in %.1fs: %s\n",
		rep.Users, rep.Users*linkedPerUser, rep.Users*sessionsPerUser, rep.SeedSeconds, rep.Seeding)
	if rep.PostsSeeding != "" {
		fmt.Fprintf(w, "posts:    %s (%.1fs)\n", rep.PostsSeeding, rep.PostsSeconds)
	}
	fmt.Fprintln(w)

	width := 0
	for _, r := range append(slices.Clone(rep.Scenarios), rep.Baselines...) {
		width = max(width, len(r.Name))
	}
	for i, part := range []struct {
		head    string
		results []Result
	}{{"scenario\trequests\treq/s", rep.Scenarios}, {"baseline\tops\tops/s", rep.Baselines}} {
		if len(part.results) == 0 {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		name, rest, _ := strings.Cut(part.head, "\t")
		fmt.Fprintf(tw, "%-*s\t%s\tp50\tp90\tp99\tmax\terrors\t\n", width, name, rest)
		for _, r := range part.results {
			row(tw, width, r)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Ratios) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "efficiency\tvalue\ttarget\t")
		for _, q := range rep.Ratios {
			verdict := "met"
			if !q.Met {
				verdict = "MISSED"
			}
			fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\n", q.Name, q.Value, q.Target, verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var notes []string
	for _, r := range append(slices.Clone(rep.Scenarios), rep.Baselines...) {
		switch {
		case r.Skipped != "":
			notes = append(notes, fmt.Sprintf("%s skipped: %s", r.Name, r.Skipped))
		case r.FirstError != "":
			notes = append(notes, fmt.Sprintf("%s: first failed exchange: %s", r.Name, r.FirstError))
		}
		if ok := successes(r); len(ok) > 1 {
			notes = append(notes, fmt.Sprintf("%s answered %s", r.Name, strings.Join(ok, ", ")))
		}
		if len(r.Each) > 0 {
			notes = append(notes, fmt.Sprintf("%s, every answer in the order sent: %s", r.Name, eachCell(r.Each)))
		}
		if r.Skipped == "" && r.Seconds > 0 && r.PrepSeconds > 0.05*r.Seconds {
			notes = append(notes, fmt.Sprintf("%s: each client spent %.1fs of %.1fs on untimed preparation; req/s is requests ÷ the rest", r.Name, r.PrepSeconds, r.Seconds))
		}
	}
	notes = append(notes, rep.Notes...)
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
	return nil
}

func row(w io.Writer, width int, r Result) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "%-*s\t-\t-\t-\t-\t-\t-\tskipped\t\n", width, r.Name)
		return
	}
	fmt.Fprintf(w, "%-*s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", width, r.Name, r.Requests, r.PerSecond,
		fmtMs(r.P50), fmtMs(r.P90), fmtMs(r.P99), fmtMs(r.Max), errorsCell(r))
}

func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 1000:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

// errorsCell is "0", or the count with its breakdown by status, e.g. "3 (503×2 transport×1)".
func errorsCell(r Result) string {
	if r.Errors == 0 {
		return "0"
	}
	var kinds []string
	for k := range r.Statuses {
		if !is2xx(k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s×%d", k, r.Statuses[k])
	}
	return fmt.Sprintf("%d (%s)", r.Errors, strings.Join(parts, " "))
}

// eachShown is how many answers a note lists; the JSON has them all.
const eachShown = 40

// eachCell is "200 in 950ms, 202 in 5.00s, …".
func eachCell(each []Sample) string {
	parts := make([]string, 0, min(len(each), eachShown)+1)
	for i, s := range each {
		if i == eachShown {
			parts = append(parts, fmt.Sprintf("… %d more in the JSON", len(each)-eachShown))
			break
		}
		parts = append(parts, fmt.Sprintf("%d in %s", s.Status, fmtMs(s.Ms)))
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report as one indented JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// successes lists the 2xx statuses of r with their counts, e.g. "200×30", "202×2".
func successes(r Result) []string {
	var out []string
	for k, n := range r.Statuses {
		if is2xx(k) {
			out = append(out, fmt.Sprintf("%s×%d", k, n))
		}
	}
	slices.Sort(out)
	return out
}
