package lanyard_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// TestDocs_LinksStayInTheRepository checks every relative link of the README and docs/:
// it names a file of the repository (never one beside the checkout, which no clone
// has) and, when it names a section, a heading that file has.
func TestDocs_LinksStayInTheRepository(t *testing.T) {
	t.Parallel()
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range append(pages, "README.md") {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), file)
			}
			if rel, err := filepath.Rel(".", target); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links to %s, outside the repository", page, link)
				continue
			}
			body, err := os.ReadFile(target)
			if err != nil {
				t.Errorf("%s links to %s: %v", page, link, err)
				continue
			}
			if anchor != "" && !hasAnchor(string(body), anchor) {
				t.Errorf("%s links to %s: %s has no heading #%s", page, link, target, anchor)
			}
		}
	}
}

// hasAnchor reports whether a Markdown page has a heading whose GitHub anchor is a.
func hasAnchor(page, a string) bool {
	for _, m := range mdHeading.FindAllStringSubmatch(page, -1) {
		var slug strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(m[1])) {
			switch {
			case r == ' ' || r == '-':
				slug.WriteRune('-')
			case r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 127:
				slug.WriteRune(r)
			}
		}
		if slug.String() == a {
			return true
		}
	}
	return false
}
