package appconfig

import (
	"fmt"
	"strings"
	"testing"
)

// tomlKeys is a TOML document of keys lines "kN = N" (keys top-level keys
// when perTable is 0, else in tables [tN] of perTable keys each).
func tomlKeys(keys, perTable int) []byte {
	var b strings.Builder
	for i := range keys {
		if perTable > 0 && i%perTable == 0 {
			fmt.Fprintf(&b, "[t%d]\n", i/perTable)
		}
		fmt.Fprintf(&b, "k%d = %d\n", i, i)
	}
	return []byte(b.String())
}

// BenchmarkParseTOMLManyKeys parses TOML of many keys: 1 MiB of them
// (124,000 top-level keys, or 112,000 in tables of 8), refused past
// MaxTOMLKeys, and a document of MaxTOMLKeys keys, the most accepted.
func BenchmarkParseTOMLManyKeys(b *testing.B) {
	for _, bm := range []struct {
		name string
		data []byte
	}{
		{"1MiB-flat", tomlKeys(124000, 0)},
		{"1MiB-tables", tomlKeys(112000, 8)},
		{"max-flat", tomlKeys(MaxTOMLKeys, 0)},
		{"max-tables", tomlKeys(MaxTOMLKeys*8/9, 8)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.data)))
			for b.Loop() {
				_, err := Parse("many.toml", bm.data)
				if err != nil && !strings.Contains(err.Error(), "TOML keys") {
					b.Fatal(err)
				}
			}
		})
	}
}
