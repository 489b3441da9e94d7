package ipcscan

import "testing"

func FuzzParseMaps(f *testing.F) {
	f.Add("7fc73d441000-7fc73d442000 rw-s 00000000 00:01 0                          /SYSVdeadbeef (deleted)\n")
	f.Add("7f3a41001000-7f3a41002000 rw-p 00000000 00:01 8 /SYSV0052e2c1 (deleted)\n/SYSV")
	f.Add("a b c d 99999999999 /SYSV00000000\n")
	f.Add("/SYSV/SYSV\n\n/SYSV")
	f.Fuzz(func(t *testing.T, s string) {
		keys, count := map[int]int32{}, map[int]int{}
		found := parseMaps([]byte(s), keys, count)
		if found != (len(count) > 0) || len(keys) != len(count) {
			t.Fatalf("found %v with %d counts and %d keys", found, len(count), len(keys))
		}
		for id, n := range count {
			if id < 0 || n < 1 {
				t.Fatalf("shmid %d counted %d", id, n)
			}
		}
	})
}
