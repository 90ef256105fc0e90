# Shared helpers for scripts/*.sh (sourced, not run).

# Installs Debian packages that are missing (as root, or through sudo).
ensure_packages() {
  local missing=()
  for spec in "$@"; do
    local cmd=${spec%%:*} pkg=${spec##*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Rust toolchain: cargo must be there (rustup.rs); Debian's cargo is too old for the
# dependency tree.
ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || {
    echo "cargo not found: install Rust >= 1.85 with rustup (https://rustup.rs) and retry" >&2
    exit 1
  }
}

# glommio registers io_uring buffers and needs >= 512 KiB of locked memory.
ensure_memlock() {
  local cur
  cur=$(ulimit -l)
  if [ "$cur" != "unlimited" ] && [ "$cur" -lt 512 ]; then
    ulimit -l 8192 2>/dev/null || ulimit -l unlimited 2>/dev/null || {
      echo "warning: locked-memory limit is ${cur} KiB; glommio needs >= 512 KiB (ulimit -l)" >&2
    }
  fi
}
