package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
)

//go:embed templates/*
var builtIn embed.FS

// kinds are the mails Lanyard sends, with the data each kind's templates may use.
var kinds = map[Kind][]string{
	KindPasswordReset:     {"link", "expires_in"},
	KindVerifyEmail:       {"link", "expires_in"},
	KindEmailChange:       {"link", "expires_in", "new_email"},
	KindEmailChangeNotice: {"new_email"},
}

// The three files of a kind's mail, each of which a directory of templates may
// replace on its own: the subject and the plain text are text/template, the HTML
// html/template (which escapes what it is given by context).
func subjectFile(k Kind) string { return string(k) + ".subject.txt" }
func textFile(k Kind) string    { return string(k) + ".txt" }
func htmlFile(k Kind) string    { return string(k) + ".html" }

// templates are every kind's parsed templates.
type templates struct {
	subject, text map[Kind]*texttemplate.Template
	html          map[Kind]*htmltemplate.Template
}

// rendered is a mail as it is stored and sent.
type rendered struct {
	subject, text, html string
}

// loadTemplates parses the built-in templates, each replaced by the file of the same
// name in dir when dir ("": none) has one, and renders each kind once with sample
// data, so that a template that cannot render stops the start rather than a mail.
func loadTemplates(dir string) (*templates, error) {
	t := &templates{subject: map[Kind]*texttemplate.Template{}, text: map[Kind]*texttemplate.Template{}, html: map[Kind]*htmltemplate.Template{}}
	if dir != "" {
		if err := checkOverrides(dir); err != nil {
			return nil, err
		}
	}
	read := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("mail template %s: %w", name, err)
			}
		}
		b, err := builtIn.ReadFile("templates/" + name)
		if err != nil {
			return "", fmt.Errorf("mail template %s: %w", name, err)
		}
		return string(b), nil
	}
	for k, keys := range kinds {
		src, err := read(subjectFile(k))
		if err != nil {
			return nil, err
		}
		if t.subject[k], err = texttemplate.New(subjectFile(k)).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail template: %w", err)
		}
		if src, err = read(textFile(k)); err != nil {
			return nil, err
		}
		if t.text[k], err = texttemplate.New(textFile(k)).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail template: %w", err)
		}
		if src, err = read(htmlFile(k)); err != nil {
			return nil, err
		}
		if t.html[k], err = htmltemplate.New(htmlFile(k)).Option("missingkey=error").Parse(src); err != nil {
			return nil, fmt.Errorf("mail template: %w", err)
		}
		sample := map[string]string{}
		for _, key := range keys {
			sample[key] = "sample " + key
		}
		if _, err := t.render(k, sample); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// checkOverrides refuses a directory of templates holding a file no kind reads: a
// misspelt name would otherwise be ignored without a word.
func checkOverrides(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("mail templates: %w", err)
	}
	known := map[string]bool{}
	for k := range kinds {
		known[subjectFile(k)], known[textFile(k)], known[htmlFile(k)] = true, true, true
	}
	for _, e := range entries {
		if !e.IsDir() && !known[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			return fmt.Errorf("mail templates: %s is not the name of a template (<kind>.subject.txt, <kind>.txt or <kind>.html for kind %s)", e.Name(), kindNames())
		}
	}
	return nil
}

func kindNames() string {
	return strings.Join([]string{string(KindPasswordReset), string(KindVerifyEmail), string(KindEmailChange), string(KindEmailChangeNotice)}, ", ")
}

// render executes kind k's templates with data. A key the templates use that data
// lacks is an error, not an empty string in a mail.
func (t *templates) render(k Kind, data map[string]string) (rendered, error) {
	var subject, text, html bytes.Buffer
	if err := t.subject[k].Execute(&subject, data); err != nil {
		return rendered{}, fmt.Errorf("render %s: %w", k, err)
	}
	if err := t.text[k].Execute(&text, data); err != nil {
		return rendered{}, fmt.Errorf("render %s: %w", k, err)
	}
	if err := t.html[k].Execute(&html, data); err != nil {
		return rendered{}, fmt.Errorf("render %s: %w", k, err)
	}
	// A subject is one line: what a template leaves around it is trimmed, and a
	// line break inside would be a header injection.
	s := strings.Join(strings.Fields(subject.String()), " ")
	return rendered{subject: s, text: text.String(), html: html.String()}, nil
}
