package ipcscan

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The fallback for hosts without /proc/sysvipc: IPC_INFO-style calls give
// the highest used index, then *_STAT_ANY (Linux 4.17+) reads each object by
// index with the same visibility as /proc, whatever its permissions.
const (
	ipcInfoShm  = 14 // SHM_INFO
	ipcStatShm  = 15 // SHM_STAT_ANY
	ipcInfoSem  = 19 // SEM_INFO
	ipcStatSem  = 20 // SEM_STAT_ANY
	ipcInfoMsg  = 12 // MSG_INFO
	ipcStatMsg  = 13 // MSG_STAT_ANY
	ipcInfoSize = 128
)

// msqid64_ds, the same on every 64-bit Linux architecture.
type msqidDS struct {
	Perm   unix.SysvIpcPerm
	Stime  int64
	Rtime  int64
	Ctime  int64
	CBytes uint64
	QNum   uint64
	QBytes uint64
	LSPID  int32
	LRPID  int32
	_      [2]uint64
}

func statAll() (shm []Segment, sem []SemSet, msg []Queue, err error) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return nil, nil, nil, errors.New("the system-call fallback supports 64-bit Linux only")
	}
	var info [ipcInfoSize]byte
	var desc unix.SysvShmDesc
	maxShm, err := unix.SysvShmCtl(0, ipcInfoShm, (*unix.SysvShmDesc)(unsafe.Pointer(&info[0])))
	if err != nil {
		return nil, nil, nil, err
	}
	for i := 0; i <= maxShm; i++ {
		id, err := unix.SysvShmCtl(i, ipcStatShm, &desc)
		if err != nil {
			continue // a free slot (EINVAL), or an object gone meanwhile
		}
		shm = append(shm, Segment{
			Perm:   perm(desc.Perm, id),
			Size:   desc.Segsz,
			CPID:   int(desc.Cpid),
			LPID:   int(desc.Lpid),
			Nattch: int(desc.Nattch),
			Atime:  desc.Atime,
			Dtime:  desc.Dtime,
			Ctime:  desc.Ctime,
		})
	}
	maxSem, err := semctl(0, ipcInfoSem, unsafe.Pointer(&info[0]))
	if err != nil {
		return nil, nil, nil, err
	}
	var sd semidDS
	for i := 0; i <= maxSem; i++ {
		id, err := semctl(i, ipcStatSem, unsafe.Pointer(&sd))
		if err != nil {
			continue
		}
		sem = append(sem, SemSet{Perm: perm(sd.Perm, id), NSems: int(sd.NSems), Otime: sd.Otime, Ctime: sd.Ctime})
	}
	maxMsg, err := msgctl(0, ipcInfoMsg, unsafe.Pointer(&info[0]))
	if err != nil {
		return nil, nil, nil, err
	}
	var md msqidDS
	for i := 0; i <= maxMsg; i++ {
		id, err := msgctl(i, ipcStatMsg, unsafe.Pointer(&md))
		if err != nil {
			continue
		}
		msg = append(msg, Queue{
			Perm: perm(md.Perm, id), CBytes: md.CBytes, QNum: md.QNum,
			LSPID: int(md.LSPID), LRPID: int(md.LRPID),
			Stime: md.Stime, Rtime: md.Rtime, Ctime: md.Ctime,
		})
	}
	return shm, sem, msg, nil
}

func perm(p unix.SysvIpcPerm, id int) Perm {
	return Perm{Key: p.Key, ID: id, Mode: p.Mode, UID: p.Uid, GID: p.Gid, CUID: p.Cuid, CGID: p.Cgid}
}

func semctl(id, cmd int, arg unsafe.Pointer) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), uintptr(arg), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func msgctl(id, cmd int, arg unsafe.Pointer) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_MSGCTL, uintptr(id), uintptr(cmd), uintptr(arg))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
