#include "keyuser.h"

/* alpha and beta are two programs with one job. */
int main(int argc, char **argv) { return keyuser(argc, argv); }
