package mariadbtopo

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// gtidEvent matches the GTID of a transaction in mariadb-binlog's output.
var gtidEvent = regexp.MustCompile(`\bGTID (\d+-\d+-\d+)\b`)

// LastGTID returns the GTID of the last transaction in s's binary log, read
// from its files with mariadb-binlog: after Kill, what the dead server had
// committed (with sync_binlog=1 every commit is in its binary log first).
func (s *Server) LastGTID(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("mariadb-binlog")
	if err != nil {
		bin = "/usr/bin/mariadb-binlog"
	}
	data := filepath.Join(s.Dir, "data")
	index, err := os.ReadFile(filepath.Join(data, "binlog.index"))
	if err != nil {
		return "", fmt.Errorf("%s: read binlog index: %w", s.Name, err)
	}
	var files []string
	for _, f := range strings.Fields(string(index)) {
		files = append(files, filepath.Join(data, filepath.Base(f)))
	}
	out, err := exec.CommandContext(ctx, bin, append([]string{"--no-defaults"}, files...)...).Output()
	if err != nil {
		return "", fmt.Errorf("%s: mariadb-binlog: %w", s.Name, err)
	}
	var last string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := gtidEvent.FindStringSubmatch(sc.Text()); m != nil {
			last = m[1]
		}
	}
	return last, sc.Err()
}
