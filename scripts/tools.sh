# Idempotent installers shared by ./scripts/run and ./scripts/test. Each step
# checks first and skips what is already there. Sourced, not executed.
# Facts behind the versions: ../shared/docs/toolchain.md (cargo-leptos 0.3.10
# is the last that builds on Rust 1.95; wasm-bindgen-cli must equal the
# wasm-bindgen in Cargo.lock; wasm-opt comes from npm's binaryen because
# Debian's breaks hydration).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools"
CARGO_LEPTOS_VERSION=0.3.10
BINARYEN_VERSION=132.0.0
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_cargo_leptos() {
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    step "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
}

ensure_wasm_bindgen() {
  local want
  want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' "$ROOT/Cargo.lock")
  if [ -z "$want" ]; then
    echo "cannot find wasm-bindgen's version in Cargo.lock" >&2
    return 1
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
    step "Installing wasm-bindgen-cli $want (the version in Cargo.lock)"
    # Without --locked: its lock file names a crate version the registry lacks.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

ensure_wasm_opt() {
  if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
    step "Installing wasm-opt (npm binaryen $BINARYEN_VERSION) into tools/"
    mkdir -p "$TOOLS"
    (cd "$TOOLS" && { [ -f package.json ] || echo '{"private": true}' > package.json; } &&
      npm install --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION")
  fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /var/lib/apt/lists/partnersync-updated ] || ! apt-get install -y "$@"; then
    apt-get update -q && touch /var/lib/apt/lists/partnersync-updated
    apt-get install -y -q "$@"
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    step "Installing Chromium for the browser tests"
    apt_install chromium
  fi
}

ensure_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    step "Installing the PostgreSQL server binaries"
    apt_install postgresql
  fi
}

ensure_e2e_packages() {
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    step "Installing the browser tests' npm packages"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund)
  fi
}

ensure_run_tools() {
  ensure_wasm_target
  ensure_wasm_bindgen
  ensure_wasm_opt
  ensure_cargo_leptos
}
