#!/usr/bin/env bash
# Writes the package's copyright file, in Debian's machine-readable format
# (DEP-5), for the Go binary given: ipckeys itself (Apache-2.0), the Go
# standard library and every module linked into the binary, as
# `go version -m` lists them, each with the copyright lines and license of
# its own license file in the module cache. A license it does not know
# stops the build: add it here rather than ship a wrong copyright file.
#
# Usage: packaging/copyright.sh BINARY >copyright
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1
modcache=$(go env GOMODCACHE)
goroot=$(go env GOROOT)

fail() { echo "copyright.sh: $*" >&2; exit 1; }

# The copyright lines of a directory's license and notice files, one per
# line, without the word Copyright, (c) and "All rights reserved".
holders() {
	local dir=$1 f
	for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
		[ -f "$f" ] || continue
		grep -hiE '^[[:space:]]*([^[:space:]].*[[:space:]])?copyright[[:space:]]+(\(c\)|©|[0-9])' "$f" || true
	done | sed -E 's/.*[Cc]opyright[[:space:]]+//; s/^(\([cC]\)|©)[[:space:]]*//; s/[[:space:]]*All rights reserved\.?//; s/[[:space:]]+$//' |
		awk 'NF && !seen[$0]++'
}

# The license of a directory, as a DEP-5 short name.
license() {
	local dir=$1 f text
	f=$(ls "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* 2>/dev/null | head -n1) || true
	[ -n "$f" ] || return 1
	text=$(tr -s '[:space:]' ' ' <"$f")
	local notice=""
	[ ! -f "$dir/NOTICE" ] || notice=$(tr -s '[:space:]' ' ' <"$dir/NOTICE")
	case $text in
	*"Apache License"*"Version 2.0"*)
		case $notice in
		*"MIT license"*) echo "Apache-2.0 and Expat" ;; # go-yaml: libyaml's files are MIT
		*) echo Apache-2.0 ;;
		esac ;;
	*"Permission is hereby granted, free of charge"*) echo Expat ;;
	*"Redistribution and use in source and binary forms"*"Neither the name"*) echo BSD-3-clause ;;
	*"Redistribution and use in source and binary forms"*) echo BSD-2-clause ;;
	*) return 1 ;;
	esac
}

# A copyright field: the first line after the name, the others indented.
field() { awk 'NR == 1 { print "Copyright: " $0; next } { print "           " $0 }'; }

cat <<'HEADER'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ipckeys
Upstream-Contact: https://github.com/ipckeys/ipckeys/issues
Source: https://github.com/ipckeys/ipckeys

Files: *
Copyright: 2026 ipckeys developers
License: Apache-2.0
HEADER

# The binary is static: the Go runtime and standard library, and each
# module it links, are in it.
gover=$(go version -m "$bin" | sed -n '1s/^[^:]*: //p')
[ -n "$gover" ] || fail "$bin: go version -m found no Go build information"
lic=$(license "$goroot") || fail "$goroot: the Go distribution's license is not one this script knows"
printf '\nFiles: vendor/std/*\n'
holders "$goroot" | field
printf 'License: %s\nComment: The Go runtime and standard library (%s), linked into\n /usr/bin/ipckeys.\n' "$lic" "$gover"

go version -m "$bin" | awk '$1 == "dep" { print $2, $3 } $1 == "=>" { print "replaced" }' |
	while read -r mod ver; do
		[ "$mod" != replaced ] || fail "$bin: a module is replaced (=>): its license cannot be read from the module cache"
		# The module cache escapes upper case letters as ! and the lower case.
		dir="$modcache/$(printf '%s@%s' "$mod" "$ver" | sed -E 's/[A-Z]/!\L&/g')"
		[ -d "$dir" ] || fail "$mod $ver is not in the module cache ($dir): run go mod download"
		lic=$(license "$dir") || fail "$mod $ver: no license file this script knows in $dir"
		h=$(holders "$dir")
		[ -n "$h" ] || fail "$mod $ver: no copyright line in its license or notice files ($dir)"
		printf '\nFiles: vendor/%s/*\n' "$mod"
		printf '%s\n' "$h" | field
		printf 'License: %s\nComment: Go module %s %s, linked into /usr/bin/ipckeys.\n' "$lic" "$mod" "$ver"
	done

# The license texts. Apache-2.0 is in every Debian system.
cat <<'LICENSES'

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License");
 you may not use this file except in compliance with the License.
 You may obtain a copy of the License at
 .
     http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS,
 WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 See the License for the specific language governing permissions and
 limitations under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in "/usr/share/common-licenses/Apache-2.0".

License: Expat
 Permission is hereby granted, free of charge, to any person obtaining a
 copy of this software and associated documentation files (the "Software"),
 to deal in the Software without restriction, including without limitation
 the rights to use, copy, modify, merge, publish, distribute, sublicense,
 and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included
 in all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL
 THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
 FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 DEALINGS IN THE SOFTWARE.

License: BSD-3-clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are
 met:
 .
    * Redistributions of source code must retain the above copyright
 notice, this list of conditions and the following disclaimer.
    * Redistributions in binary form must reproduce the above
 copyright notice, this list of conditions and the following disclaimer
 in the documentation and/or other materials provided with the
 distribution.
    * Neither the name of the copyright holder nor the names of its
 contributors may be used to endorse or promote products derived from
 this software without specific prior written permission.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
 "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
 LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
 A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT
 OWNER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
 SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT
 LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
 DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
 THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
 (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

License: BSD-2-clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are
 met:
 .
    * Redistributions of source code must retain the above copyright
 notice, this list of conditions and the following disclaimer.
    * Redistributions in binary form must reproduce the above
 copyright notice, this list of conditions and the following disclaimer
 in the documentation and/or other materials provided with the
 distribution.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
 "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
 LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR
 A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT
 OWNER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
 SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT
 LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
 DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
 THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
 (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
 OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
LICENSES
