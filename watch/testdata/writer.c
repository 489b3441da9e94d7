#include "semuser.h"

/* writer and reader are two programs sharing one lock. */
int main(int argc, char **argv) { return semuser(argc, argv); }
