#!/usr/bin/env bash
# Installs what uniffi/run-tests.sh needs and is missing, and prints nothing
# else on success but what it did:
#   - kotlinc: npm's `kotlin-compiler` (Maven Central is not reachable from
#     CI), pinned, into $TESSERA_CI_CACHE (default ~/.cache/tessera-ci);
#   - JNA: Debian's libjna-java (/usr/share/java/jna.jar);
#   - clang: Debian's clang, to check the Swift bindings' C header;
#   - a JDK (java, 17 or later) and python3 must already be there.
# Safe to run again: what is present is left alone.
set -euo pipefail

KOTLIN_VERSION=2.4.20
CACHE=${TESSERA_CI_CACHE:-$HOME/.cache/tessera-ci}
KOTLIN_HOME=$CACHE/kotlin-$KOTLIN_VERSION/node_modules/kotlin-compiler

missing_apt=()
[ -f /usr/share/java/jna.jar ] || missing_apt+=(libjna-java)
command -v clang >/dev/null || missing_apt+=(clang)
if [ ${#missing_apt[@]} -gt 0 ]; then
    echo "install-tools: apt-get install ${missing_apt[*]}"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing_apt[@]}" >/dev/null
fi

if [ ! -x "$KOTLIN_HOME/bin/kotlinc" ]; then
    echo "install-tools: npm install kotlin-compiler@$KOTLIN_VERSION into $CACHE"
    command -v npm >/dev/null || { echo "install-tools: npm is missing" >&2; exit 1; }
    mkdir -p "$CACHE"
    npm install --silent --no-audit --no-fund --prefix "$CACHE/kotlin-$KOTLIN_VERSION" \
        "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
fi

for tool in java python3 clang "$KOTLIN_HOME/bin/kotlinc"; do
    command -v "$tool" >/dev/null || { echo "install-tools: $tool is missing" >&2; exit 1; }
done
[ -f /usr/share/java/jna.jar ] || { echo "install-tools: /usr/share/java/jna.jar is missing" >&2; exit 1; }
