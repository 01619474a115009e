#!/usr/bin/env bash
# Benchmark of `govmesh hygiene check` against the floor (listing and reading every
# file), `reuse lint`, alint (PyPI wheel, with its bundled REUSE ruleset) and ls-lint
# (npm, prebuilt binary; naming only, compared with govmesh running the same naming
# rules imported from the same .ls-lint.yml), in one run on one repository, with peak
# RSS; then the per-category agreement with reuse lint.
#
#   scripts/bench-hygiene.sh /path/to/repo [path/to/govmesh]
#
# Needs GNU time (/usr/bin/time), pip and npm. Installs what is missing, by package
# name only: reuse and alint with pip, @ls-lint/ls-lint with npm into
# $GOVMESH_BENCH_TOOLS (default ~/.cache/govmesh-bench).
# The machine may be shared: compare the ratios within one run, not absolute times.
set -euo pipefail

repo=${1:?usage: scripts/bench-hygiene.sh REPO [GOVMESH_BINARY]}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$here/target/release/govmesh}
out=$(mktemp -d)
[ -x "$bin" ] || { echo "no $bin: cargo build --release -p govmesh" >&2; exit 2; }
command -v reuse >/dev/null || pip install -q -r "$here/requirements-test.txt" >&2
command -v reuse >/dev/null || { echo "reuse missing: pip install -r requirements-test.txt" >&2; exit 2; }
command -v alint >/dev/null || pip install -q alint >&2
command -v alint >/dev/null || { echo "alint missing: pip install alint" >&2; exit 2; }
tools=${GOVMESH_BENCH_TOOLS:-$HOME/.cache/govmesh-bench}
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
lslint=$tools/node_modules/@ls-lint/ls-lint/bin/ls-lint-$(uname -s | tr A-Z a-z)-$arch
if [ ! -x "$lslint" ]; then
    mkdir -p "$tools"
    npm install -s --no-save --prefix "$tools" @ls-lint/ls-lint >&2
fi
[ -x "$lslint" ] || { echo "ls-lint missing: npm install @ls-lint/ls-lint (no $lslint)" >&2; exit 2; }
echo "tools: $(reuse --version | head -1), $(alint --version), $("$lslint" -version | head -1)"

# alint with its bundled REUSE ruleset (SPDX headers, LICENSES/ texts).
printf 'version: 1\nextends:\n  - alint://bundled/compliance/reuse@v1\n' > "$out/alint.yml"
# A naming configuration for ls-lint, and the same rules as our policy.
cat > "$out/ls-lint.yml" <<'EOF'
ls:
  .dir: lowercase
  .c: snake_case | kebab-case
  .h: snake_case | kebab-case
  .py: snake_case
  .sh: snake_case | kebab-case
ignore:
  - .git
EOF
"$bin" hygiene import "$out/ls-lint.yml" --from ls-lint > "$out/naming-policy.json"

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

ratio() { python3 -c "print(f'{$1 / max($2, 0.001):.2f}')"; }

# The fast tools, interleaved, $GOVMESH_BENCH_RUNS times (default 3): on a shared
# machine compare the ratios within one run.
runs=${GOVMESH_BENCH_RUNS:-3}
for run in $(seq 1 "$runs"); do
    echo "-- run $run of $runs"
    measure git-ls-files git ls-files
    measure read-1-process sh -c 'git ls-files -z | xargs -0 cat > /dev/null'
    measure read-2-processes sh -c 'git ls-files -z | xargs -0 -P2 -n 2000 cat > /dev/null'
    measure govmesh-hygiene "$bin" hygiene check . --format json
    measure alint-reuse alint -c "$out/alint.yml" --format json check .
    measure govmesh-hygiene-1-thread "$bin" hygiene check . --format json --threads 1
    echo "   govmesh / 2-process read: $(ratio "$t_govmesh_hygiene" "$t_read_2_processes")x wall;" \
        "govmesh / alint: $(ratio "$t_govmesh_hygiene" "$t_alint_reuse")x wall," \
        "$(ratio "$c_govmesh_hygiene" "$c_alint_reuse")x cpu"
done
echo "-- once"
measure reuse-lint reuse lint --json
measure ls-lint "$lslint" -config "$out/ls-lint.yml" -error-output-format json
measure govmesh-naming "$bin" hygiene check . --format json --policy "$out/naming-policy.json"

echo
echo "(ratios below: the last run)"
echo "govmesh / 2-process read floor: $(ratio "$t_govmesh_hygiene" "$t_read_2_processes")x"
echo "govmesh 1 thread / 1-process read floor: $(ratio "$t_govmesh_hygiene_1_thread" "$t_read_1_process")x"
echo "reuse lint / govmesh:           $(ratio "$t_reuse_lint" "$t_govmesh_hygiene")x"
echo "alint (REUSE rules) / govmesh:  $(ratio "$t_alint_reuse" "$t_govmesh_hygiene")x"
echo "ls-lint / govmesh (naming):     $(ratio "$t_ls_lint" "$t_govmesh_naming")x"
echo "cpu: govmesh / 1-process read:  $(ratio "$c_govmesh_hygiene" "$c_read_1_process")x (less sensitive to a busy machine)"
echo "cpu: reuse lint / govmesh:      $(ratio "$c_reuse_lint" "$c_govmesh_hygiene")x"
echo "cpu: alint / govmesh:           $(ratio "$c_alint_reuse" "$c_govmesh_hygiene")x"
python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
try:
    a = json.load(open(f"{out}/alint-reuse.out"))
    per = {r["id"]: len(r["violations"]) for r in a["results"] if not r["passed"]}
    print(f"alint REUSE violations: {a['summary']['total_violations']} {per}")
    r = json.load(open(f"{out}/reuse-lint.out"))
    print(f"reuse lint: {r['summary']}")
except (OSError, ValueError, KeyError) as e:
    print(f"(cannot summarise the alint/reuse outputs: {e})")
EOF

echo
echo "agreement with reuse lint, per category:"
cd "$here"
GOVMESH_AGREEMENT_REPO=$repo GOVMESH_REUSE_JSON="$out/reuse-lint.out" \
    cargo test -q -p govmesh-hygiene --test hygiene -- --ignored real_repository 2>&1 \
    | grep -E "differs|only reuse|only ours|test result" || true
echo "(outputs kept in $out)"
