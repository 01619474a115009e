#!/usr/bin/env bash
# Benchmark of `govmesh hygiene check` against the floor (listing and reading every
# file) and `reuse lint`, in one run on one repository, with peak RSS; then the
# per-category agreement with reuse lint.
#
#   scripts/bench-hygiene.sh /path/to/repo [path/to/govmesh]
#
# Needs GNU time (/usr/bin/time) and reuse (pip install -r requirements-test.txt).
# The machine may be shared: compare the ratios within one run, not absolute times.
set -euo pipefail

repo=${1:?usage: scripts/bench-hygiene.sh REPO [GOVMESH_BINARY]}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$here/target/release/govmesh}
out=$(mktemp -d)
[ -x "$bin" ] || { echo "no $bin: cargo build --release -p govmesh" >&2; exit 2; }
command -v reuse >/dev/null || { echo "reuse missing: pip install -r requirements-test.txt" >&2; exit 2; }

cd "$repo"
files=$(git ls-files | wc -l)
# (cat complains about tracked symlinks to directories; that does not matter here)
bytes=$( (git ls-files -z | xargs -0 cat 2>/dev/null || true) | wc -c)
echo "repository: $repo ($files tracked files, $((bytes / 1048576)) MiB)"

# Warm the page cache so every tool reads from memory.
git ls-files -z | xargs -0 cat > /dev/null 2>&1 || true

measure() { # name, command...
    local name=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$out/$name.time" "$@" > "$out/$name.out" 2> "$out/$name.err" || true
    read -r secs user sys rss < <(tail -1 "$out/$name.time")
    cpu=$(python3 -c "print(f'{$user + $sys:.2f}')")
    printf '%-28s %8.2f s wall %8.2f s cpu %8d KiB peak RSS\n' "$name" "$secs" "$cpu" "$rss"
    eval "t_${name//-/_}=$secs"
    eval "c_${name//-/_}=$cpu"
}

measure git-ls-files git ls-files
measure read-1-process sh -c 'git ls-files -z | xargs -0 cat > /dev/null'
measure read-2-processes sh -c 'git ls-files -z | xargs -0 -P2 -n 2000 cat > /dev/null'
measure govmesh-hygiene "$bin" hygiene check . --format json
measure govmesh-hygiene-1-thread "$bin" hygiene check . --format json --threads 1
measure reuse-lint reuse lint --json

ratio() { python3 -c "print(f'{$1 / max($2, 0.001):.2f}')"; }
echo
echo "govmesh / 2-process read floor: $(ratio "$t_govmesh_hygiene" "$t_read_2_processes")x"
echo "govmesh 1 thread / 1-process read floor: $(ratio "$t_govmesh_hygiene_1_thread" "$t_read_1_process")x"
echo "reuse lint / govmesh:           $(ratio "$t_reuse_lint" "$t_govmesh_hygiene")x"
echo "cpu: govmesh / 1-process read:  $(ratio "$c_govmesh_hygiene" "$c_read_1_process")x (less sensitive to a busy machine)"
echo "cpu: reuse lint / govmesh:      $(ratio "$c_reuse_lint" "$c_govmesh_hygiene")x"

echo
echo "agreement with reuse lint, per category:"
cd "$here"
GOVMESH_AGREEMENT_REPO=$repo GOVMESH_REUSE_JSON="$out/reuse-lint.out" \
    cargo test -q -p govmesh-hygiene --test hygiene -- --ignored real_repository 2>&1 \
    | grep -E "differs|only reuse|only ours|test result" || true
echo "(outputs kept in $out)"
