package remotewritedeliveryextension

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeAnswerTable: the README's table "What happens to a request",
// the one statement of the answer policy, says for every status code from
// 200 to 599 what judge does: delivered, dropped, or kept with the whole
// queue paused, and then whether a 2xx ends that pause (verdict.firm). A
// row names codes (400), classes (5xx) or "any other 4xx".
func TestReadmeAnswerTable(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(raw), "\n## What happens to a request\n")
	require.True(t, ok, "README: no answer table")
	table, _, _ = strings.Cut(table, "\n\n")

	said := map[int]verdict{}
	var otherwise4xx *verdict
	codes := regexp.MustCompile(`\b([1-5])(\d\d|xx)\b`)
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		event, what := cells[1], strings.TrimSpace(cells[2])
		var v verdict
		switch {
		case strings.HasPrefix(what, "delivered"):
			v = delivered
		case strings.HasPrefix(what, "dropped"):
			v = drop
		case strings.HasPrefix(what, "kept; **the whole queue pauses**") && strings.Contains(what, "**a 2xx ends the pause**"):
			v = retry
		case strings.HasPrefix(what, "kept; **the whole queue pauses**") && strings.Contains(what, "**a 2xx does not end it**"):
			v = throttled // or retryCredentials: compared as firm below
		case strings.HasPrefix(what, "kept"):
			t.Fatalf("README: row %q keeps the request but does not say that the whole queue pauses and whether a 2xx ends the pause", line)
		default:
			continue // a row that is not about an answer (a full disk, an expired request)
		}
		if strings.Contains(event, "any other 4xx") {
			otherwise4xx = &v
			event = strings.ReplaceAll(event, "any other 4xx", "")
		}
		for _, m := range codes.FindAllStringSubmatch(event, -1) {
			class, _ := strconv.Atoi(m[1])
			if m[2] == "xx" {
				for code := class * 100; code < class*100+100; code++ {
					said[code] = v
				}
				continue
			}
			code, _ := strconv.Atoi(m[1] + m[2])
			said[code] = v
		}
	}
	require.NotNil(t, otherwise4xx, "README: no row for any other 4xx")
	for code := 200; code < 600; code++ {
		v, ok := said[code]
		if !ok && code >= 400 && code < 500 {
			v, ok = *otherwise4xx, true
		}
		require.True(t, ok, "README: the answer table says nothing of %d", code)
		got := judge(code)
		if v.firm() {
			require.True(t, got.firm(), "README: a 2xx does not end the pause after %d, judge says %d", code, got)
			continue
		}
		require.Equal(t, v, got, "README: the answer table and judge disagree on %d", code)
	}
}
