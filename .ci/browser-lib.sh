# What the browser checks (.ci/browser-check.sh, .ci/serve-check.sh) share: messages, the
# skip-unless-CI rule, Debian's chromium and a pinned playwright-core. Sourced, with $check
# (the name messages start with) and $bin (the binary under test) set.

playwright=playwright-core@1.65.1
say() { echo "$check: $*" >&2; }
fail() {
    say "FAIL: $*"
    exit 1
}
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        fail "$* (CI=true: the $check must run here)"
    fi
    say "SKIPPED: $* (under CI=true this fails)"
    exit 0
}

# The binary, node and chromium (installed with apt-get when root), or a skip.
need_browser() {
    [ -x "$bin" ] || fail "$bin is not built: run cargo build (or cargo test) first"
    command -v node >/dev/null || skip_or_fail "no node"
    if ! command -v chromium >/dev/null; then
        if [ "$(id -u)" = 0 ]; then
            say "installing chromium (apt-get)"
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
                >/dev/null || skip_or_fail "cannot install chromium"
        else
            skip_or_fail "no chromium, and not root to install it"
        fi
    fi
}

# playwright-core into folder $1 (from npm), or a skip.
install_playwright() {
    npm install --prefix "$1" --no-audit --no-fund --silent "$playwright" >/dev/null \
        || skip_or_fail "cannot install $playwright from npm"
}
