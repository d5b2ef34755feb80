#!/usr/bin/env bash
# Checks the relative links of the documentation: every [text](target) in
# README.md and docs/*.md (or the files given) whose target is not a URL
# must name a file or folder that exists, and its #anchor, if any, must be
# a heading of the target Markdown file as GitHub renders it (lower case,
# punctuation dropped, spaces to hyphens, -1, -2 for repeats). Links inside
# code blocks and code spans are not links. Prints each broken link as
# FILE:LINE: TARGET: why, and exits 1 if there is any.
# Usage: scripts/checklinks.sh [FILE.md ...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
	set -- README.md docs/*.md
fi

# anchors FILE: the anchors GitHub makes of FILE's headings, one a line.
anchors() {
	awk '
	/^[ \t]*(```|~~~)/ { fence = !fence; next }
	fence { next }
	/^#{1,6}[ \t]/ {
		h = $0
		sub(/^#+[ \t]+/, "", h); sub(/[ \t]+#*[ \t]*$/, "", h)
		while (match(h, /\[[^]]*\]\([^)]*\)/)) { # a link: its text
			t = substr(h, RSTART + 1, RLENGTH); sub(/\]\(.*$/, "", t)
			h = substr(h, 1, RSTART - 1) t substr(h, RSTART + RLENGTH)
		}
		h = tolower(h)
		# Non-ASCII punctuation GitHub drops; other non-ASCII (letters) stays.
		n = split("— – · × → ← “ ” ‘ ’ … § ©", p, " ")
		for (i = 1; i <= n; i++) gsub(p[i], "", h)
		gsub(/[!-,.\/:-@[-^`{-~]/, "", h) # ASCII punctuation but - and _
		gsub(/ /, "-", h)
		a = h
		if (seen[h]++) a = h "-" (seen[h] - 1)
		print a
	}
	match($0, /<a (name|id)="[^"]*"/) { s = substr($0, RSTART, RLENGTH); sub(/^[^"]*"/, "", s); sub(/"$/, "", s); print s }
	' "$1"
}

# links FILE: LINE<TAB>TARGET of every link of FILE outside code.
links() {
	awk '
	/^[ \t]*(```|~~~)/ { fence = !fence; next }
	fence { next }
	{
		l = $0
		gsub(/`[^`]*`/, "", l) # code spans
		while (match(l, /\]\([^)]*\)/)) {
			t = substr(l, RSTART + 2, RLENGTH - 3)
			sub(/^</, "", t); sub(/>$/, "", t)
			sub(/[ \t]+"[^"]*"$/, "", t) # a title
			print NR "\t" t
			l = substr(l, RSTART + RLENGTH)
		}
	}
	' "$1"
}

bad=0
declare -A cache
for f in "$@"; do
	dir=$(dirname "$f")
	while IFS=$'\t' read -r line target; do
		case $target in
		http://* | https://* | mailto:*) continue ;;
		esac
		path=${target%%#*}
		anchor=
		[[ $target == *"#"* ]] && anchor=${target#*#}
		if [ -z "$path" ]; then
			dest=$f
		else
			dest=$dir/$path
		fi
		if [ ! -e "$dest" ]; then
			echo "$f:$line: $target: no such file or folder ($dest)"
			bad=1
			continue
		fi
		[ -z "$anchor" ] && continue
		case $dest in
		*.md) ;;
		*) continue ;; # anchors of other files (line numbers, ...) are not checked
		esac
		if [ -z "${cache[$dest]+x}" ]; then
			cache[$dest]=$'\n'$(anchors "$dest")$'\n'
		fi
		if [[ ${cache[$dest]} != *$'\n'"$anchor"$'\n'* ]]; then
			echo "$f:$line: $target: no heading with anchor #$anchor in $dest"
			bad=1
		fi
	done < <(links "$f")
done
if [ "$bad" = 0 ]; then
	echo "checklinks: every relative link and anchor in $* resolves"
fi
exit "$bad"
