package harness

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// StatusCounts returns how many attempts in res got each status (0: no
// response).
func StatusCounts(res *Results) map[int]int {
	n := map[int]int{}
	res.Each(func(ks *KeyState) {
		for _, s := range ks.Sends {
			for _, a := range s.Attempts {
				n[a.Status]++
			}
		}
	})
	return n
}

// SumCounts returns the sum of m's counts.
func SumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// FormatCounts writes m as "(a 3, b 2)", sorted by name.
func FormatCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
