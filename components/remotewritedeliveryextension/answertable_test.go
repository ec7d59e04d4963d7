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
// 200 to 599 what judge does: delivered, kept and retried with backoff,
// kept with the whole queue paused, or dropped. A row names codes (400),
// classes (5xx) or "any other 4xx".
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
		case strings.HasPrefix(what, "kept") && strings.Contains(what, "the whole queue pauses"):
			v = throttled // or retryCredentials: compared as "pauses the queue" below
		case strings.HasPrefix(what, "kept, retried with exponential backoff"):
			v = retry
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
	pauses := func(v verdict) bool { return v == throttled || v == retryCredentials }
	for code := 200; code < 600; code++ {
		v, ok := said[code]
		if !ok && code >= 400 && code < 500 {
			v, ok = *otherwise4xx, true
		}
		require.True(t, ok, "README: the answer table says nothing of %d", code)
		got := judge(code)
		if pauses(v) {
			require.True(t, pauses(got), "README: %d pauses the whole queue, judge says %d", code, got)
			continue
		}
		require.Equal(t, v, got, "README: the answer table and judge disagree on %d", code)
	}
}
