#!/bin/sh
# docs.sh - the documentation lists exactly the keys `winnow -help` prints, and the man page exists. TAP.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
echo "1..2"
help_keys=$(wn_mpirun 1 "$W" -help 2>&1 | grep -o -- '-wn_[a-z_0-9]*' | grep -vx -e '-wn_key' | sort -u) # -wn_key: the usage line
doc_keys=$(grep -o -- '`-wn_[a-z_0-9]*`' "$top_srcdir/doc/decks.md" | tr -d '`' | sort -u)
missing=$(printf '%s\n' "$help_keys" | grep -vxF -e "$(printf '%s\n' "$doc_keys")")
extra=$(printf '%s\n' "$doc_keys" | grep -vxF -e "$(printf '%s\n' "$help_keys")")
[ -n "$help_keys" ] && [ -z "$missing" ] && [ -z "$extra" ]; r=$?
[ -z "$missing" ] || echo "# in -help but not in doc/decks.md: $missing"
[ -z "$extra" ] || echo "# in doc/decks.md but not in -help: $extra"
[ -n "$help_keys" ] || echo "# winnow -help printed no keys"
tap_rc $r 1 "doc/decks.md documents exactly the keys of winnow -help"
grep -q '^\.TH WINNOW 1' "$top_srcdir/doc/winnow.1"; tap_rc $? 2 "doc/winnow.1 is a man page"
