#!/usr/bin/env bash
# Proves the README's set-up on a machine that has only Rust, a C compiler, make, Java 17 and
# Maven: in a private mount namespace it hides what the build once read from the system (curl's
# and OpenSSL's headers and libraries, protoc and protobuf's headers, pkg-config, CMake), runs
# `cargo install --path .` from scratch into target/fresh-build/, then runs the installed flinkit
# from a directory outside the repository, with the repository's jars/, sql/ and compose/ hidden:
# `--version`, and `setup`, which builds the runner jar and fetches the Flink runtime from the
# sources embedded in the binary, into a cache of its own.
#
# A debug install (`--debug`): it compiles and links every C dependency and runs every build
# script exactly as the release build does, in less time. Needs root or unprivileged
# user namespaces (for `unshare`). Hides nothing outside the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/target/fresh-build

if [ "${FLINKIT_FRESH_BUILD_INSIDE:-}" != 1 ]; then
  command -v unshare >/dev/null 2>&1 || { echo "fresh-build: needs unshare (util-linux)" >&2; exit 1; }
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(--map-root-user)
  export FLINKIT_FRESH_BUILD_INSIDE=1
  exec unshare "${as_root[@]}" --mount --propagation private "$0" "$@"
fi

empty=$(mktemp -d)
hidden=()
hide() {
  local path
  for path in "$@"; do
    if [ -d "$path" ] && [ ! -L "$path" ]; then
      mount --bind "$empty" "$path"
    elif [ -e "$path" ]; then
      mount --bind /dev/null "$(readlink -f "$path")"
    else
      continue
    fi
    hidden+=("$path")
  done
}
shopt -s nullglob
hide /usr/include/curl /usr/include/*-linux-gnu/curl /usr/include/openssl \
  /usr/include/*-linux-gnu/openssl /usr/include/google/protobuf
hide /usr/lib/*-linux-gnu/lib{curl,ssl,crypto,protobuf,protoc}.{so,a} /usr/lib/lib{curl,ssl,crypto}.{so,a}
IFS=: read -r -a path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  for tool in protoc pkg-config pkgconf cmake curl-config; do
    if [ -e "$dir/$tool" ]; then hide "$dir/$tool"; fi
  done
done
shopt -u nullglob
hash -r
echo "fresh-build: hidden in this namespace: ${hidden[*]:-nothing (none was installed)}"
# A hidden tool is still named on the PATH, but as a device that cannot be run.
for dir in "${path_dirs[@]}"; do
  for tool in protoc pkg-config cmake; do
    if [ -f "$dir/$tool" ] && [ -x "$dir/$tool" ]; then
      echo "fresh-build: $dir/$tool is still visible" >&2
      exit 1
    fi
  done
done
for header in /usr/include/{,*-linux-gnu/}{curl/curl.h,openssl/ssl.h}; do
  if [ -e "$header" ]; then
    echo "fresh-build: $header is still visible" >&2
    exit 1
  fi
done

rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
CARGO_TARGET_DIR=$out/target cargo install --locked --debug --quiet --path . --root "$out/root"
echo "fresh-build: cargo install --debug --path . from scratch took $(( $(date +%s) - start ))s"

# What the binary embeds (the Maven sources, the tutorials, the compose file) is hidden too: the
# installed flinkit must not read the repository.
for dir in jars sql compose; do mount --bind "$empty" "$repo/$dir"; done
elsewhere=$(mktemp -d)
cd "$elsewhere"
"$out/root/bin/flinkit" --version
start=$(date +%s)
FLINKIT_CACHE_DIR=$out/cache "$out/root/bin/flinkit" setup
echo "fresh-build: flinkit setup in $elsewhere took $(( $(date +%s) - start ))s"
cd "$repo"
rm -rf "$elsewhere" "$empty"
