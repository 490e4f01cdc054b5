#!/usr/bin/env python3
"""Turn the criterion results of `cargo bench -p tessera-bench` into Markdown.

Reads <criterion dir>/**/new/{benchmark,estimates}.json (groups named
"<op>/N=<n>", one function per library, plus the "floor" group), the sizes
written by the bench (<criterion dir>/tessera-sizes/*.json) and, if present,
peak-memory results (<criterion dir>/tessera-peak-mem.jsonl, one JSON line per
run of the peak_mem example). Writes one Markdown document.

Usage:
    python3 benches/compare/report.py [--criterion-dir DIR] [--out FILE]

Standard library only.
"""

import argparse
import glob
import json
import math
import os
import sys

LIBS = ["tessera", "openmls", "mls-rs"]
BASELINES = ["openmls", "mls-rs"]

OPS = [
    ("create-add", "create + add N-1 (committer)"),
    ("join", "join (process Welcome)"),
    ("update-create-fresh", "update commit, create, fresh tree"),
    ("update-process-fresh", "update commit, process, fresh tree"),
    ("update-create-populated", "update commit, create, populated tree"),
    ("update-process-populated", "update commit, process, populated tree"),
    ("remove-create-fresh", "remove commit, create, fresh tree"),
    ("remove-process-fresh", "remove commit, process, fresh tree"),
    ("remove-create-populated", "remove commit, create, populated tree"),
    ("remove-process-populated", "remove commit, process, populated tree"),
    ("app-encrypt-1KiB", "application message 1 KiB, encrypt"),
    ("app-decrypt-1KiB", "application message 1 KiB, decrypt"),
    ("app-decrypt-1KiB-all-sent", "application message 1 KiB, decrypt, after every member sent one"),
]

# Unit costs measured in the "floor" group (criterion function ids).
UNITS = {
    "sign": "ed25519-sign",
    "verify": "ed25519-verify",
    "sign_app": "ed25519-sign-app",
    "verify_app": "ed25519-verify-app",
    "seal": "hpke-seal-32B",
    "open": "hpke-open-32B",
    "derive": "x25519-derive-keypair",
    "hash": "sha256-100B",
    "expand": "hkdf-expand-32B",
    "aead": "aes128gcm-seal-1KiB",
    # Per KiB: measured over 64 KiB (see PER_KIB).
    "sha256_kib": "sha256-64KiB",
    "sha512_kib": "sha512-64KiB",
}

# Units measured over more than one of what they count: divide by this.
PER_KIB = {"sha256_kib": 64, "sha512_kib": 64}


def depth(n):
    """Parent nodes on a leaf's direct path: ceil(log2(n))."""
    return max(1, math.ceil(math.log2(n)))


# Bytes of one HPKECiphertext of a 32-byte path secret, suite 0x0001:
# kem_output<V> (1 + 32) and ciphertext<V> (1 + 32 + 16-byte tag).
CT_BYTES = 82
# Bytes of a KeyPackage (suite 0x0001, basic credential of ~10 bytes).
KP_BYTES = 280
# Bytes per leaf of the ratchet_tree extension of a fresh tree (a LeafNode
# with a basic credential, ~180 bytes, and one blank parent, 1 byte).
TREE_LEAF_BYTES = 180


def tree_kib(n):
    """Size in KiB of the ratchet tree extension of a fresh N-member tree."""
    return n * TREE_LEAF_BYTES / 1024.0


def add_commit_kib(n):
    """Size in KiB of a commit adding N-1 members by value."""
    return ((n - 1) * KP_BYTES + 300) / 1024.0


def commit_kib(seals, d):
    """Size in KiB of a commit's FramedContent with an UpdatePath: its
    ciphertexts, d path nodes (HPKE key 33 bytes + vector headers), and about
    600 bytes of leaf node, signature, proposals and headers."""
    return (CT_BYTES * seals + 36 * d + 600) / 1024.0


def remove_seals_populated(n):
    """HPKE encryptions of a commit by leaf 0 removing leaf N-1 from the
    populated tree: the removal blanks the removed leaf's direct path, so the
    copath node above it no longer resolves to one node but to one node per
    level below it (RFC 9420 §4.1.1 resolution; §12.1.3 blanks the path). Counted on
    the tree itself: leaves 0..N-1 occupied, every parent above an occupied
    leaf set, except those on the direct path of leaf N-1."""
    if n <= 2:
        return 0
    width = 1
    while width < n:
        width *= 2
    removed = n - 1

    def resolution(lo, hi):
        # Subtree of leaves [lo, hi): its size in resolved nodes.
        if hi - lo == 1:
            return 1 if lo < n and lo != removed else 0
        has_member = lo < n and any(l != removed for l in range(lo, min(hi, n)))
        on_removed_path = lo <= removed < hi
        if has_member and not on_removed_path:
            return 1
        mid = (lo + hi) // 2
        return resolution(lo, mid) + resolution(mid, hi)

    # Leaf 0's copath: the right sibling subtree at each level.
    seals, size = 0, 1
    while size < width:
        seals += resolution(size, 2 * size)
        size *= 2
    return seals


def hashed_sending(kib):
    """Hashing of a commit of `kib` KiB by its sender: Ed25519 signing hashes
    the message twice (SHA-512; the first 200 bytes are in `sign`), the
    membership tag (HMAC-SHA256) and the confirmed transcript hash (SHA-256)
    cover it once each."""
    return {"sha512_kib": 2 * max(kib - 0.2, 0), "sha256_kib": 2 * kib}


def hashed_receiving(kib):
    """Hashing of a commit of `kib` KiB by a receiver: one Ed25519
    verification (SHA-512 once; the first 200 bytes are in `verify`), the
    membership tag and the confirmed transcript hash."""
    return {"sha512_kib": max(kib - 0.2, 0), "sha256_kib": 2 * kib}


# ---------------------------------------------------------------------------
# Floor: how many primitive operations each benchmarked operation needs.
#
# The floor of an operation is sum(count[unit] * unit_cost[unit]). The counts
# below are the least work RFC 9420 demands (suite 0x0001, d = ceil(log2 N)),
# counted from the RFC's steps, not from any library's code; "hash" counts
# SHA-256 calls of ~100 bytes (a 300-byte input counts 3), "aead" counts KiB
# through AES-128-GCM. They price every signature check as one single
# verification: a library that verifies Ed25519 signatures in batches can go
# below the floor on those rows (Tessera did until issue 11: a batch equation
# cannot guarantee the verdict of single verification). Likewise "derive" and
# "seal" are priced one at a time (x25519-derive-keypair, hpke-seal-32B):
# Tessera derives a direct path's key pairs, and a commit's or Welcome's
# ephemeral HPKE keys, as one batch whose public keys share one field
# inversion (the same keys as one by one), which takes a few percent off
# those units and can put a row slightly below its floor.
#
# Large messages are hashed whole by every implementation: a commit's
# signature input (Ed25519 hashes it with SHA-512, twice to sign), its
# membership tag (HMAC-SHA256) and the confirmed transcript hash (SHA-256);
# a GroupInfo carrying the ratchet tree is signed and verified. Those bytes
# are priced per KiB ("sha256_kib", "sha512_kib"), from the message sizes the
# RFC fixes for suite 0x0001 (commit_kib), so the ratio to the floor shows
# what is left that an implementation adds.
# ---------------------------------------------------------------------------
FLOOR_COUNTS = {
    # Create the group (own leaf: 1 sign, 1 key pair), validate N-1 KeyPackages
    # (2 verifies each, KeyPackageRef hash), commit (1 sign, no path needed for
    # adds), GroupInfo (1 sign), Welcome: one HPKE seal per new member, the
    # GroupInfo with the ratchet tree (~0.3 KiB per leaf) through AES-GCM, tree
    # hash over 2N-1 nodes.
    "create-add": lambda n: {
        "verify": 2 * (n - 1),
        "sign": 3,
        "derive": 1,
        "seal": n - 1,
        "hash": 3 * (2 * n - 1) + 3 * (n - 1),
        "aead": 0.3 * n,
        "expand": 20,
        # The commit (N-1 KeyPackages by value) signed, tagged and hashed
        # into the transcript; the GroupInfo with the ratchet tree signed.
        "sha512_kib": hashed_sending(add_commit_kib(n))["sha512_kib"] + 2 * tree_kib(n),
        "sha256_kib": hashed_sending(add_commit_kib(n))["sha256_kib"],
    },
    # Open the GroupSecrets, decrypt the GroupInfo (ratchet tree), verify its
    # signature and every leaf's, tree hash + parent hashes, derive the path
    # above the common ancestor (the root, for the last leaf), key schedule.
    "join": lambda n: {
        "open": 1,
        "aead": 0.3 * n,
        "verify": n + 1,
        "hash": 4 * n,
        "derive": 1,
        "expand": 20,
        # The GroupInfo's signature covers the ratchet tree.
        "sha512_kib": tree_kib(n),
    },
    # New leaf key pair + d path key pairs, leaf node and commit signatures,
    # one HPKE seal per node of the copath resolutions (fresh tree: every other
    # leaf; populated: one per level), parent hashes, tree hash along the path
    # (cached elsewhere); the commit's bytes (82 per seal) hashed for its
    # signature, membership tag and transcript (hashed_sending / _receiving).
    "update-create-fresh": lambda n: {
        "sign": 2,
        "derive": depth(n) + 1,
        "seal": n - 1,
        "hash": 3 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_sending(commit_kib(n - 1, depth(n))),
    },
    "update-create-populated": lambda n: {
        "sign": 2,
        "derive": depth(n) + 1,
        "seal": depth(n),
        "hash": 4 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_sending(commit_kib(depth(n), depth(n))),
    },
    # Verify commit and leaf node signatures, open one path secret, derive and
    # check the key pairs from the common ancestor up (leaves 0 and 1: all d),
    # hashes as on the sending side.
    "update-process-fresh": lambda n: {
        "verify": 2,
        "open": 1,
        "derive": depth(n),
        "hash": 3 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_receiving(commit_kib(n - 1, depth(n))),
    },
    "update-process-populated": lambda n: {
        "verify": 2,
        "open": 1,
        "derive": depth(n),
        "hash": 4 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_receiving(commit_kib(depth(n), depth(n))),
    },
    "remove-create-fresh": lambda n: {
        "sign": 2,
        "derive": depth(n) + 1,
        "seal": max(n - 2, 0),
        "hash": 4 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_sending(commit_kib(max(n - 2, 0), depth(n))),
    },
    # A removal also blanks the removed leaf's direct path: one more small
    # tree hash per level, and in a populated tree more encryptions (and a
    # larger commit to hash) where the copath meets that path.
    "remove-create-populated": lambda n: {
        "sign": 2,
        "derive": depth(n) + 1,
        "seal": remove_seals_populated(n),
        "hash": 5 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_sending(commit_kib(remove_seals_populated(n), depth(n))),
    },
    # At N = 2 the receiver is the removed member: it decrypts nothing.
    "remove-process-fresh": lambda n: {
        "verify": 2,
        "open": 1 if n > 2 else 0,
        "derive": depth(n) if n > 2 else 0,
        "hash": 4 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_receiving(commit_kib(max(n - 2, 0), depth(n))),
    },
    "remove-process-populated": lambda n: {
        "verify": 2,
        "open": 1 if n > 2 else 0,
        "derive": depth(n) if n > 2 else 0,
        "hash": 5 * depth(n),
        "expand": 2 * depth(n) + 20,
        **hashed_receiving(commit_kib(remove_seals_populated(n), depth(n))),
    },
    # Sign (or verify) the content, AES-GCM over 1 KiB (+ the small sender
    # data), one ratchet step (key, nonce, next secret). The signed
    # FramedContentTBS of a 1 KiB message is about 1.2 KB: `*_app` units.
    "app-encrypt-1KiB": lambda n: {"sign_app": 1, "aead": 1.05, "expand": 3},
    "app-decrypt-1KiB": lambda n: {"verify_app": 1, "aead": 1.05, "expand": 3},
    # The same: the ratchets already started by other senders need no work.
    "app-decrypt-1KiB-all-sent": lambda n: {"verify_app": 1, "aead": 1.05, "expand": 3},
}


def default_criterion_dir():
    if os.environ.get("CRITERION_HOME"):
        return os.environ["CRITERION_HOME"]
    if os.environ.get("CARGO_TARGET_DIR"):
        return os.path.join(os.environ["CARGO_TARGET_DIR"], "criterion")
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "target", "criterion"))


def load_results(root):
    """{(group_id, function_id): median_ns} from every new/ directory."""
    out = {}
    for est_path in glob.glob(os.path.join(root, "**", "new", "estimates.json"), recursive=True):
        bench_path = os.path.join(os.path.dirname(est_path), "benchmark.json")
        try:
            with open(bench_path) as f:
                bench = json.load(f)
            with open(est_path) as f:
                est = json.load(f)
        except (OSError, ValueError):
            continue
        group = bench.get("group_id")
        func = bench.get("function_id")
        if bench.get("value_str"):
            func = "%s/%s" % (func, bench["value_str"]) if func else bench["value_str"]
        median = est.get("median", {}).get("point_estimate")
        if group is None or func is None or median is None:
            continue
        out[(group, func)] = median
    return out


def fmt_time(ns):
    if ns is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def fmt_bytes(b):
    if b is None:
        return "—"
    if b >= 1 << 20:
        return "%.2f MiB" % (b / (1 << 20))
    if b >= 1 << 10:
        return "%.1f KiB" % (b / (1 << 10))
    return "%d B" % b


def floor_ns(op, n, units):
    counts = FLOOR_COUNTS.get(op)
    if counts is None:
        return None
    total = 0.0
    for unit, count in counts(n).items():
        cost = units.get(UNITS[unit])
        if cost is None:
            return None
        total += count * cost / PER_KIB.get(unit, 1)
    return total


def floor_ops(op, n):
    """The operation counts of a row, e.g. `999 seal, 1998 verify`."""
    counts = FLOOR_COUNTS.get(op)
    if counts is None:
        return "—"
    parts = []
    for unit, count in counts(n).items():
        if count:
            c = ("%d" % round(count)) if abs(count - round(count)) < 1e-6 else ("%.2f" % count)
            if unit.endswith("_kib"):
                parts.append("%s KiB %s" % (c, unit[:-4]))
            else:
                parts.append("%s %s" % (c, unit))
    return ", ".join(parts)


def render(root):
    results = load_results(root)
    units = {f: v for (g, f), v in results.items() if g == "floor"}
    rows = {}
    ns = set()
    for (group, func), median in results.items():
        if "/N=" not in group:
            continue
        op, n = group.rsplit("/N=", 1)
        try:
            n = int(n)
        except ValueError:
            continue
        ns.add(n)
        rows.setdefault((op, n), {})[func] = median

    lines = ["# Tessera vs openmls vs mls-rs", ""]
    lines.append(
        "Median time per operation (criterion), suite 0x0001, basic credentials, "
        "in-memory state, handshakes as PublicMessage, one thread. "
        "`ratio` = tessera / best of the others (below 1 is faster). "
        "`floor` = primitive-operation counts (table `FLOOR_COUNTS` in report.py) "
        "times the unit costs of the `floor` group."
    )
    lines.append("")
    lines.append(
        "| operation | N | tessera | openmls | mls-rs | ratio | floor | tessera / floor "
        "| floor operations |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    known_ops = [op for op, _ in OPS]
    extra_ops = sorted({op for op, _ in rows} - set(known_ops))
    for op in known_ops + extra_ops:
        for n in sorted(ns):
            r = rows.get((op, n))
            if not r:
                continue
            best_other = min((r[l] for l in BASELINES if l in r), default=None)
            ratio = "—"
            if "tessera" in r and best_other:
                ratio = "%.2f" % (r["tessera"] / best_other)
            cells = [fmt_time(r.get(l)) for l in LIBS]
            floor = floor_ns(op, n, units)
            vs_floor = "%.2f" % (r["tessera"] / floor) if floor and "tessera" in r else "—"
            lines.append(
                "| %s | %d | %s | %s | %s | %s | %s | %s | %s |"
                % (op, n, cells[0], cells[1], cells[2], ratio, fmt_time(floor), vs_floor,
                   floor_ops(op, n))
            )
    lines.append("")

    if units:
        lines.append("## Crypto floor (unit costs)")
        lines.append("")
        lines.append("| primitive | median |")
        lines.append("|---|---:|")
        for func in sorted(units):
            lines.append("| %s | %s |" % (func, fmt_time(units[func])))
        lines.append("")

    sizes = {}
    for path in glob.glob(os.path.join(root, "tessera-sizes", "*.json")):
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, ValueError):
            continue
        lib, n = d.pop("library", None), d.pop("n", None)
        if lib is None or n is None:
            continue
        for k, v in d.items():
            sizes.setdefault((k, n), {})[lib] = v
    if sizes:
        lines.append("## Message sizes")
        lines.append("")
        lines.append("| message | N | tessera | openmls | mls-rs |")
        lines.append("|---|---:|---:|---:|---:|")
        for (k, n) in sorted(sizes, key=lambda kn: (kn[0], kn[1])):
            s = sizes[(k, n)]
            lines.append(
                "| %s | %d | %s |"
                % (k, n, " | ".join(fmt_bytes(s.get(l)) for l in LIBS))
            )
        lines.append("")

    peak_path = os.path.join(root, "tessera-peak-mem.jsonl")
    if os.path.exists(peak_path):
        peaks = {}
        with open(peak_path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                peaks[(d["n"], d["library"])] = d  # the last run wins
        lines.append("## Peak memory of a joining member")
        lines.append("")
        lines.append(
            "Peak RSS (VmHWM) of a process that makes one KeyPackage and joins a "
            "group of N from a Welcome (ratchet tree included); RSS before the "
            "join (process baseline + Welcome bytes) for reference."
        )
        lines.append("")
        lines.append("| library | N | peak RSS | RSS before join | RSS after join | Welcome | join time |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for (n, lib) in sorted(peaks):
            d = peaks[(n, lib)]
            lines.append(
                "| %s | %d | %s | %s | %s | %s | %s |"
                % (
                    lib,
                    n,
                    fmt_bytes(d.get("vm_hwm_bytes")),
                    fmt_bytes(d.get("vm_rss_before_join_bytes")),
                    fmt_bytes(d.get("vm_rss_after_join_bytes")),
                    fmt_bytes(d.get("welcome_bytes")),
                    fmt_time(d["join_ms"] * 1e6) if "join_ms" in d else "—",
                )
            )
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--criterion-dir", default=default_criterion_dir())
    ap.add_argument("--out", help="write the Markdown here instead of stdout")
    args = ap.parse_args()
    if not os.path.isdir(args.criterion_dir):
        sys.exit("no criterion results in %s: run `cargo bench -p tessera-bench` first" % args.criterion_dir)
    text = render(args.criterion_dir)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
