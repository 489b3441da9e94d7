/* A shared library with ftok and none of the IPC functions: a C library
 * whose system calls no uprobe can see. */
#include <sys/types.h>

int ftok(const char *path, int proj)
{
	(void)path;
	(void)proj;
	return -1;
}
