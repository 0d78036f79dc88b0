package oteltrace

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// maxErrorText bounds the message of an error from the collector or the
// SDK: 512 bytes, enough for the status and the start of the collector's
// explanation, where a misconfigured proxy can answer a megabyte of HTML.
const maxErrorText = 512

// redacted replaces a credential in messages.
const Redacted = "REDACTED"

// userinfo matches the user:password@ part of a URL in free text.
var userinfo = regexp.MustCompile(`(//)[^/@\s"]*@`)

// Redact returns the URL u for messages: without its user and password
// (user:password@ becomes REDACTED@) and with every query parameter's value
// redacted (a token in ?api_key=...). Text that is not a URL is returned
// with anything like user:password@ redacted.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		return userinfo.ReplaceAllString(u, "${1}"+Redacted+"@")
	}
	if p.User != nil {
		p.User = url.User(Redacted)
	}
	if p.RawQuery != "" {
		q := p.Query()
		for k := range q {
			q[k] = []string{Redacted}
		}
		p.RawQuery = q.Encode()
	}
	return p.String()
}

// RedactText redacts anything like user:password@ of a URL in a message.
func RedactText(msg string) string {
	return userinfo.ReplaceAllString(msg, "${1}"+Redacted+"@")
}

// secrets are the strings of endpoint u that messages must not show: its
// user information and query values, as written and escaped.
func secrets(u string) []string {
	p, err := url.Parse(u)
	if err != nil {
		return nil
	}
	var out []string
	if p.User != nil {
		out = append(out, p.User.String(), p.User.Username())
		if pw, ok := p.User.Password(); ok {
			out = append(out, pw, url.QueryEscape(pw))
		}
	}
	for _, vs := range p.Query() {
		for _, v := range vs {
			out = append(out, v, url.QueryEscape(v))
		}
	}
	return out
}

// sanitizedError is an error whose message was redacted and cut; it still
// wraps the original for errors.Is and errors.As.
type sanitizedError struct {
	msg string
	err error
}

func (e *sanitizedError) Error() string { return e.msg }
func (e *sanitizedError) Unwrap() error { return e.err }

// sanitize returns err with the credentials of c's endpoint redacted and
// its message cut to maxErrorText bytes.
func (c *Client) sanitize(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if c.endpoint != "" {
		msg = strings.ReplaceAll(msg, c.endpoint, c.shown)
	}
	for _, s := range secrets(c.endpoint) {
		if len(s) >= 3 { // short strings would redact ordinary words
			msg = strings.ReplaceAll(msg, s, Redacted)
		}
	}
	msg = userinfo.ReplaceAllString(msg, "${1}"+Redacted+"@")
	if len(msg) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8Start(msg[cut]) {
			cut--
		}
		msg = fmt.Sprintf("%s... (%d more bytes)", msg[:cut], len(msg)-cut)
	}
	return &sanitizedError{msg: msg, err: err}
}

// utf8Start reports whether b starts a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xc0 != 0x80 }
