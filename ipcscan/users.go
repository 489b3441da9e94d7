package ipcscan

import (
	"os/user"
	"strconv"
	"sync"
)

var (
	usersMu sync.Mutex
	users   = map[uint32]string{}
)

// UserName returns the name of uid on this host, or the uid as a number
// when it has none (65534 is what an unmapped uid reads as inside a user
// namespace).
func UserName(uid uint32) string {
	usersMu.Lock()
	defer usersMu.Unlock()
	if name, ok := users[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	users[uid] = name
	return name
}
