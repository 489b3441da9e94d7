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

// LookupOwner returns the uid of an owner as a manifest names it: a
// numeric uid, or a user name known to this host.
func LookupOwner(owner string) (uint32, error) {
	if uid, err := strconv.ParseUint(owner, 10, 32); err == nil {
		return uint32(uid), nil
	}
	u, err := user.Lookup(owner)
	if err != nil {
		return 0, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(uid), err
}
