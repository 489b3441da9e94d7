#!/bin/sh
# Rewrites the example outputs in README.md and docs/*.md from real runs:
# each example's commands run in a setting made for them (key files made on
# ext4 until their inodes collide, holder processes attached to a segment),
# in private IPC, pid, mount and network namespaces. Needs root, a C
# compiler and util-linux. The test suite runs the same examples and fails
# when the committed outputs differ (TestDocsExamples in cmd/ipckeys).
set -eu
cd "$(dirname "$0")/.."
exec go test -count=1 -run '^TestDocsExamples$' ./cmd/ipckeys/ -update-docs "$@"
