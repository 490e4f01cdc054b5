#!/usr/bin/env bash
# Builds the bindings library, generates the Kotlin, Python and Swift
# bindings from it, and tests them:
#   - Rust: the adapter's own tests (cargo test -p tessera-uniffi);
#   - Kotlin: the generated code and tests/kotlin/*.kt compiled by kotlinc,
#     run on the JVM against the library through JNA: the MlsClient scenario
#     (three clients, each in its own SQLite database in a temporary
#     directory), the MlsGroup scenario, the 1 KiB timings;
#   - Python: tests/python/scenario.py with the generated module (ctypes),
#     the same scenarios;
#   - Swift (no toolchain here): the C header and module map compiled by
#     clang -fsyntax-only, and the Swift file checked against the library
#     (every FFI function it calls is declared and exported, and the API
#     checksums it verifies at load time match the library's).
# Any missing tool is an error (uniffi/install-tools.sh installs them).
#
# Generated code goes to $TESSERA_UNIFFI_OUT (default target/uniffi), which
# is never committed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

KOTLIN_VERSION=2.4.20
CACHE=${TESSERA_CI_CACHE:-$HOME/.cache/tessera-ci}
KOTLINC=${KOTLINC:-$CACHE/kotlin-$KOTLIN_VERSION/node_modules/kotlin-compiler/bin/kotlinc}
[ -x "$KOTLINC" ] || KOTLINC=$(command -v kotlinc || true)
JNA_JAR=${JNA_JAR:-/usr/share/java/jna.jar}
OUT=${TESSERA_UNIFFI_OUT:-$ROOT/target/uniffi}

fail() { echo "run-tests: $*" >&2; exit 1; }
[ -n "$KOTLINC" ] && [ -x "$KOTLINC" ] || fail "kotlinc not found (run uniffi/install-tools.sh, or set KOTLINC)"
[ -f "$JNA_JAR" ] || fail "$JNA_JAR not found (apt-get install libjna-java, or set JNA_JAR)"
for tool in java python3 clang nm; do
    command -v $tool >/dev/null || fail "$tool not found (run uniffi/install-tools.sh)"
done

case "$(uname -s)" in
    Darwin) LIBFILE=libtessera_uniffi.dylib ;;
    *) LIBFILE=libtessera_uniffi.so ;;
esac
LIB=$ROOT/target/release/$LIBFILE
BINDGEN=$ROOT/target/release/uniffi-bindgen
step() { echo "== uniffi: $*"; }
elapsed() { echo "   ($((SECONDS - $1)) s)"; }

step "build the library and uniffi-bindgen (release, features 'testing' and 'bindgen')"
t=$SECONDS
cargo build --release -p tessera-uniffi --features testing,bindgen
elapsed $t

step "the adapter's Rust tests"
t=$SECONDS
cargo test --release -p tessera-uniffi --features testing,bindgen
elapsed $t

step "generate Kotlin, Python and Swift into $OUT"
rm -rf "$OUT"
for lang in kotlin python swift; do
    "$BINDGEN" generate --no-format --library "$LIB" --language $lang --out-dir "$OUT/$lang" >/dev/null
done
(cd "$OUT" && find . -type f | sort | sed 's/^/   /')

# The deliberate panics of the scenarios print their message on stderr;
# they are caught and checked, the backtraces are noise.
export RUST_BACKTRACE=0

step "Kotlin: kotlinc $("$KOTLINC" -version 2>&1 | sed -n 's/.*kotlinc-jvm \([^ ]*\).*/\1/p'), JNA $(unzip -p "$JNA_JAR" META-INF/MANIFEST.MF 2>/dev/null | sed -n 's/^Implementation-Version: *//p' | tr -d '\r' || true), $(java -version 2>&1 | head -1)"
t=$SECONDS
# The README snippets (README.md, uniffi/README.md) are compiled too, each
# ```kotlin block as the body of a function, against stubs for the app's
# own names: they must match the generated API.
python3 - README.md uniffi/README.md > "$OUT/ReadmeSnippets.kt" <<'PY'
import re, sys
print("""import tessera.*
// Stubs for the app's own names in the snippets.
object directory { fun knows(identity: ByteArray) = true }
object deliveryService {
    fun send(commit: ByteArray) {}
    fun sendWelcome(welcome: ByteArray) {}
}
object keystore {
    fun load(name: String): ByteArray? = null
    fun save(name: String, key: ByteArray) {}
}
val myValidator = object : CredentialValidator {
    override fun validate(check: CredentialCheck) = CredentialVerdict.Accept
    override fun sameParticipant(old: Credential, new: Credential) = false
}
val filesDir = java.io.File("/nonexistent")
val bobKeyPackage = ByteArray(0)
val incoming = ByteArray(0)
val bytes = ByteArray(0)
val client: MlsClient by lazy { error("stub") }
val group: ClientGroup by lazy { error("stub") }
fun show(sender: Credential, text: String) {}
fun refreshMembers(members: List<Member>) {}
fun leave() {}
fun log(line: String) {}""")
count = 0
for path in sys.argv[1:]:
    for block in re.findall(r"```kotlin\n(.*?)```", open(path).read(), re.S):
        if "dependencies {" in block:
            continue  # Gradle, not app code
        count += 1
        body = "\n".join(l for l in block.splitlines() if not l.startswith("import "))
        print(f"\nfun readmeSnippet{count}() {{\n{body}\n}}")
if count < 3:
    sys.exit(f"expected at least 3 Kotlin snippets in the READMEs, found {count}")
print(f"   {count} Kotlin snippets from the READMEs", file=sys.stderr)
PY
"$KOTLINC" -nowarn "$OUT"/kotlin/tessera/*.kt uniffi/tests/kotlin/*.kt "$OUT/ReadmeSnippets.kt" \
    -cp "$JNA_JAR" -include-runtime -d "$OUT/kotlin-scenario.jar"
echo "   compiled ($((SECONDS - t)) s); five deliberate panic messages follow"
java -Djna.library.path="$(dirname "$LIB")" -cp "$OUT/kotlin-scenario.jar:$JNA_JAR" ScenarioKt
elapsed $t

step "Python: $(python3 --version)"
t=$SECONDS
cp "$LIB" "$OUT/python/"
echo "   five deliberate panic messages follow"
PYTHONPATH="$OUT/python" python3 uniffi/tests/python/scenario.py
elapsed $t

step "Swift: the C header and module map (clang -fsyntax-only), the Swift file against the library"
t=$SECONDS
SWIFT=$OUT/swift
clang --version | head -1 | sed 's/^/   /'
printf '#include "TesseraFFI.h"\n' > "$OUT/swift-header-check.c"
clang -fsyntax-only -Wall -Wextra -Werror -std=c11 -I "$SWIFT" "$OUT/swift-header-check.c"
cat > "$OUT/swift-module-check.m" <<'OBJC'
@import TesseraFFI;
// The contract version and one checksum, through the module.
int main(void) {
    return (int)ffi_tessera_uniffi_uniffi_contract_version()
         + (int)uniffi_tessera_uniffi_checksum_method_mlsclient_process();
}
OBJC
clang -fsyntax-only -Wall -Werror -fmodules -fmodules-cache-path="$OUT/clang-modules" \
    -fmodule-map-file="$SWIFT/TesseraFFI.modulemap" -I "$SWIFT" "$OUT/swift-module-check.m"
python3 - "$SWIFT/Tessera.swift" "$SWIFT/TesseraFFI.h" "$LIB" <<'PY'
import ctypes, re, subprocess, sys
swift, header, lib = (open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3])
ident = r"\b((?:uniffi|ffi)_tessera_uniffi_\w+)\b"
called = set(re.findall(ident + r"\s*\(", swift))
declared = set(re.findall(ident + r"\s*\(", header))
exported = set(subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                              check=True).stdout.split())
problems = [f"Swift calls {f}, which the header does not declare" for f in sorted(called - declared)]
problems += [f"the header declares {f}, which the library does not export" for f in sorted(declared - exported)]
so = ctypes.CDLL(lib)
checksums = re.findall(r"(uniffi_tessera_uniffi_checksum_\w+)\(\)\s*!=\s*(\d+)", swift)
for name, expected in checksums:
    fn = getattr(so, name)
    fn.restype = ctypes.c_uint16
    if fn() != int(expected):
        problems.append(f"{name}: Swift expects {expected}, the library says {fn()}")
contract = so.ffi_tessera_uniffi_uniffi_contract_version
contract.restype = ctypes.c_uint32
swift_contract = int(re.search(r"bindings_contract_version = (\d+)", swift).group(1))
if contract() != swift_contract:
    problems.append(f"contract version: Swift {swift_contract}, library {contract()}")
if not called or not checksums:
    problems.append("found no FFI calls or checksums in the Swift file: the check is broken")
for p in problems:
    print("   " + p, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"   Swift file: {len(called)} FFI functions called, all declared and exported; "
      f"{len(checksums)} API checksums and contract version {swift_contract} match the library")
PY
elapsed $t
step "all bindings tests passed"
