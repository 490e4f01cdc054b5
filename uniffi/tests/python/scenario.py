"""The Python scenario: the generated module `tessera_uniffi` (ctypes, with
libtessera_uniffi.so beside it) driven through the same scenario as the
Kotlin test (see uniffi/run-tests.sh). Exits non-zero on the first failed
check.

Three members (alice, bob, carol): create, add, join, messages both ways, a
Python validator that refuses credentials (a join, an own add and a received
commit are rejected, state unchanged), errors caught by their category,
panics that stay on the Rust side, remove, and the cost of a 1 KiB encrypt
and decrypt through the bindings beside the Rust figure.
"""

import statistics
import sys
import time
import traceback

from tessera_uniffi import (
    CipherSuite,
    Credential,
    CredentialUse,
    CredentialValidator,
    CredentialVerdict,
    Identity,
    InternalError,
    MlsGroup,
    Received,
    TesseraError,
    testing_panic,
    testing_panic_inside,
    testing_panic_unguarded,
    testing_rust_timing,
)

VALIDITY = 30 * 86_400
SUITE = CipherSuite.MLS128_DHKEMX25519_AES128GCM_SHA256_ED25519
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(f"check failed: {what}")
    checks += 1


def expect_raises(kind, what, call):
    """Runs `call`, which must raise `kind`; returns the exception."""
    global checks
    try:
        call()
    except kind as e:
        checks += 1
        return e
    except BaseException as e:  # noqa: BLE001 - report what was raised instead
        raise AssertionError(f"{what}: expected {kind.__name__}, got {e!r}") from e
    raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


def basic(name):
    return Credential.BASIC(identity=name.encode())


def name_of(credential):
    return credential.identity.decode() if credential.is_basic() else "<non-basic>"


class NameValidator(CredentialValidator):
    """The app's policy: basic credentials whose name is not blocked."""

    def __init__(self, blocked=()):
        self.blocked = set(blocked)
        self.seen = []

    def validate(self, check):
        name = name_of(check.credential)
        self.seen.append(f"{check.usage.name}:{name}")
        if not check.credential.is_basic():
            return CredentialVerdict.REJECT(reason="only basic credentials")
        if name in self.blocked:
            return CredentialVerdict.REJECT(reason=f"{name} is blocked")
        return CredentialVerdict.ACCEPT()


class LockedKeychainValidator(CredentialValidator):
    """A validator whose backend fails: it raises a Tessera error of its own."""

    def validate(self, check):
        raise TesseraError.Storage("keychain locked")


class BuggyValidator(CredentialValidator):
    """A validator with a bug: it raises something that is not a Tessera error."""

    def validate(self, check):
        raise ValueError("bug in the app's validator")


class ReentrantValidator(CredentialValidator):
    """A validator that (wrongly) calls back into a group."""

    def __init__(self, group):
        self.group = group
        self.caught = None

    def validate(self, check):
        try:
            self.group.epoch()
        except BaseException as e:  # noqa: BLE001 - recorded and checked below
            self.caught = e
        return CredentialVerdict.ACCEPT()


def receive_text(group, data):
    r = group.process(data)
    check(r.is_application(), f"an application message, got {r!r}")
    return r.sender.leaf_index, r.data.decode()


def add_and_join(creator_identity, group_id, joiner_identity, joiner_validator, creator_validator=None):
    """A fresh two-member group: returns (creator's group, joiner's group)."""
    group = MlsGroup.create(creator_identity, group_id, creator_validator or NameValidator())
    kp = joiner_identity.generate_key_package(VALIDITY)
    out = group.add_members([kp.key_package()])
    group.merge_pending_commit()
    return group, MlsGroup.join(joiner_identity, kp, out.welcome, joiner_validator)


def scenario():
    accept = NameValidator(blocked={"mallory"})
    alice = Identity(basic("alice"), SUITE)
    bob = Identity(basic("bob"), SUITE)
    carol = Identity(basic("carol"), SUITE)
    mallory = Identity(basic("mallory"), SUITE)
    check(name_of(alice.credential()) == "alice", "identity keeps its credential")
    check(len(alice.signature_key()) == 32, "Ed25519 public key")

    # Alice creates the group and adds Bob.
    group_a = MlsGroup.create(alice, b"python-group", accept)
    check(group_a.epoch() == 0, "a new group is at epoch 0")
    bob_kp = bob.generate_key_package(VALIDITY)
    add_bob = group_a.add_members([bob_kp.key_package()])
    check(add_bob.welcome is not None, "an add carries a Welcome")
    check(group_a.has_pending_commit(), "the commit is pending until merged")
    group_a.merge_pending_commit()
    check(group_a.epoch() == 1, "epoch 1 after the add")

    bob_validator = NameValidator(blocked={"mallory"})
    group_b = MlsGroup.join(bob, bob_kp, add_bob.welcome, bob_validator)
    check(bob_kp.is_spent(), "joining deletes the KeyPackage's private keys")
    check(bob_validator.seen == ["TREE_MEMBER:alice", "TREE_MEMBER:bob"], f"validator saw the tree: {bob_validator.seen}")
    expect_raises(TesseraError.ApiMisuse, "a spent KeyPackage cannot join again",
                  lambda: MlsGroup.join(bob, bob_kp, add_bob.welcome, bob_validator))

    # Alice adds Carol; Bob follows. Carol's first join attempt refuses Alice.
    carol_kp = carol.generate_key_package(VALIDITY)
    add_carol = group_a.add_members([carol_kp.key_package()])
    group_a.merge_pending_commit()
    seen = group_b.process(add_carol.commit)
    check(seen.is_commit(), f"bob sees a commit: {seen!r}")
    check(seen.summary.epoch == 2 and seen.summary.committer_leaf == 0, f"commit summary: {seen.summary!r}")
    check([name_of(m.credential) for m in seen.summary.added] == ["carol"], "carol added")
    check(bob_validator.seen[-1] == "ADDED:carol", "bob's validator saw carol added")

    refused = expect_raises(TesseraError.ProtocolViolation, "carol refuses alice's credential",
                            lambda: MlsGroup.join(carol, carol_kp, add_carol.welcome, NameValidator(blocked={"alice"})))
    check("alice is blocked" in refused.detail, f"the rejection keeps the validator's reason: {refused.detail}")
    check(not carol_kp.is_spent(), "a refused join keeps the KeyPackage")
    group_c = MlsGroup.join(carol, carol_kp, add_carol.welcome, NameValidator(blocked={"mallory"}))

    members = [group_a, group_b, group_c]
    names = ["alice", "bob", "carol"]
    check(all(g.epoch() == 2 for g in members), "everyone at epoch 2")
    check(len({g.epoch_authenticator() for g in members}) == 1, "epoch authenticators agree")
    check([name_of(m.credential) for m in group_c.members()] == names, "members by leaf")
    check(group_c.own_leaf_index() == 2, "carol at leaf 2")

    # Messages both ways: each member sends, the two others read.
    for i, sender in enumerate(members):
        text = f"hello from {names[i]}"
        ct = sender.encrypt_with_authenticated_data(text.encode(), f"ad-{i}".encode())
        for j, receiver in enumerate(members):
            if i == j:
                continue
            r = receiver.process(ct)
            check(r.is_application(), "application message")
            check(r.sender.leaf_index == i and r.data.decode() == text, f"member {j} reads member {i}")
            check(name_of(r.sender.credential) == names[i], "the sender's credential")
            check(r.authenticated_data == f"ad-{i}".encode() and r.epoch == 2, "authenticated data and epoch")

    # Errors, caught by category.
    expect_raises(TesseraError.BadBytes, "garbage is bad bytes", lambda: group_b.process(b"\x01\x02\x03"))
    expect_raises(TesseraError.BadBytes, "a KeyPackage is not a Welcome",
                  lambda: MlsGroup.join(carol, carol.generate_key_package(VALIDITY), bob_kp.key_package(), accept))
    expect_raises(TesseraError.BadBytes, "not a KeyPackage", lambda: group_a.add_members([b""]))
    ct = group_a.encrypt(b"once")
    check(receive_text(group_b, ct)[1] == "once", "first delivery decrypts")
    replay = expect_raises(TesseraError.ProtocolViolation, "a replay is refused", lambda: group_b.process(ct))
    print(f"python: replay refused: {replay.detail}")
    tampered = bytearray(group_a.encrypt(b"tampered"))
    tampered[-1] ^= 1
    bad = expect_raises(TesseraError, "a tampered message is refused", lambda: group_c.process(bytes(tampered)))
    check(isinstance(bad, (TesseraError.Crypto, TesseraError.ProtocolViolation)), f"tampering: {bad!r}")
    expect_raises(TesseraError.ApiMisuse, "no pending commit to merge", group_b.merge_pending_commit)

    # The validator refuses an own add: no commit is built.
    mallory_kp = mallory.generate_key_package(VALIDITY)
    expect_raises(TesseraError.ProtocolViolation, "alice's validator refuses to add mallory",
                  lambda: group_a.add_members([mallory_kp.key_package()]))
    check(not group_a.has_pending_commit(), "no commit was built")

    # A received commit refused: alice's app here has a lenient policy and
    # adds mallory; bob's policy refuses the commit, his group unchanged.
    lenient_a, bob2 = add_and_join(alice, b"python-commit-reject", bob, NameValidator(blocked={"mallory"}))
    add_mallory = lenient_a.add_members([mallory.generate_key_package(VALIDITY).key_package()])
    before = bob2.epoch_authenticator()
    rejected = expect_raises(TesseraError.ProtocolViolation, "bob refuses the commit adding mallory",
                             lambda: bob2.process(add_mallory.commit))
    check("mallory is blocked" in rejected.detail, f"reason kept: {rejected.detail}")
    check(bob2.epoch() == 1 and bob2.epoch_authenticator() == before, "bob's group unchanged")
    lenient_a.discard_pending_commit()  # the delivery service refused it
    check(receive_text(bob2, lenient_a.encrypt(b"still here"))[1] == "still here",
          "the group goes on after the refused commit")

    # A validator that raises: a TesseraError passes through as raised,
    # anything else becomes Internal; re-entering a group is refused.
    thrower = MlsGroup.create(alice, b"throwing", NameValidator())
    kp3 = bob.generate_key_package(VALIDITY)
    welcome3 = thrower.add_members([kp3.key_package()]).welcome
    thrower.merge_pending_commit()
    storage = expect_raises(TesseraError.Storage, "the validator's own error passes through",
                            lambda: MlsGroup.join(bob, kp3, welcome3, LockedKeychainValidator()))
    check(storage.detail == "keychain locked", "its detail kept")
    internal = expect_raises(TesseraError.Internal, "an unexpected exception becomes Internal",
                             lambda: MlsGroup.join(bob, kp3, welcome3, BuggyValidator()))
    check("bug in the app's validator" in internal.detail, f"its message kept: {internal.detail}")
    reentrant = ReentrantValidator(group_a)
    MlsGroup.join(bob, kp3, welcome3, reentrant)
    check(isinstance(reentrant.caught, TesseraError.ApiMisuse),
          f"a call back into a group from a validator is refused: {reentrant.caught!r}")

    # No panic crosses the boundary.
    p = expect_raises(TesseraError.Internal, "a panic inside the guard is Internal", lambda: testing_panic("boom"))
    check("boom" in p.detail, "panic message kept")
    expect_raises(InternalError, "a panic outside our guard is UniFFI's InternalError",
                  lambda: testing_panic_unguarded("boom"))
    scratch = MlsGroup.create(alice, b"scratch", accept)
    expect_raises(TesseraError.Internal, "a panic while the group is locked", lambda: testing_panic_inside(scratch))
    expect_raises(TesseraError.Internal, "the group is not used after that", scratch.epoch)
    check(group_a.epoch() == 2, "other groups are unaffected")

    # Alice removes Carol. Bob follows; Carol learns she was removed.
    remove_carol = group_a.remove_members([2])
    check(remove_carol.welcome is None, "a remove has no Welcome")
    group_a.merge_pending_commit()
    bob_sees = group_b.process(remove_carol.commit)
    check(bob_sees.is_commit() and [name_of(m.credential) for m in bob_sees.summary.removed] == ["carol"],
          f"bob sees carol removed: {bob_sees!r}")
    carol_sees = group_c.process(remove_carol.commit)
    check(carol_sees.is_removed(), f"carol learns she was removed: {carol_sees!r}")
    check(not group_c.is_active(), "carol's group is inactive")
    expect_raises(TesseraError.ApiMisuse, "a removed member cannot send", lambda: group_c.encrypt(b"hi"))
    after = group_a.encrypt(b"carol can't read this")
    check(receive_text(group_b, after)[1] == "carol can't read this", "bob reads the new epoch")
    expect_raises(TesseraError, "carol cannot read the new epoch", lambda: group_c.process(after))
    check(group_a.epoch_authenticator() == group_b.epoch_authenticator(), "alice and bob agree")
    check(CredentialUse.ADDED.name == "ADDED", "enums keep their names")
    print("python: scenario passed")


def timing():
    """Median cost of encrypt and of decrypt of 1 KiB through the bindings, beside the Rust figures."""
    iterations, warmup = 5000, 500
    payload = b"\x5a" * 1024
    ga, gb = add_and_join(Identity(basic("alice"), SUITE), b"timing", Identity(basic("bob"), SUITE), NameValidator())
    for _ in range(warmup):
        gb.process(ga.encrypt(payload))
    enc, dec, noop = [], [], []
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        ct = ga.encrypt(payload)
        t1 = time.perf_counter_ns()
        r = gb.process(ct)
        t2 = time.perf_counter_ns()
        ga.epoch()
        t3 = time.perf_counter_ns()
        if not (r.is_application() and r.data == payload):
            raise AssertionError("timing round trip")
        enc.append(t1 - t0)
        dec.append(t2 - t1)
        noop.append(t3 - t2)
    py_enc, py_dec = statistics.median_low(enc), statistics.median_low(dec)
    rust = testing_rust_timing(iterations, 1024)

    def us(ns):
        return f"{ns / 1000:8.1f} µs"

    print(f"python: 1 KiB application message, median of {iterations} calls (after {warmup} warm-up), one process:")
    print("python:                               encrypt      decrypt")
    print(f"python:   Rust, tessera Group      {us(rust.core_encrypt_ns)}  {us(rust.core_decrypt_ns)}")
    print(f"python:   Rust, bindings' adapter  {us(rust.adapter_encrypt_ns)}  {us(rust.adapter_decrypt_ns)}")
    print(f"python:   Python through ctypes    {us(py_enc)}  {us(py_dec)}")
    re, rd = py_enc / rust.core_encrypt_ns, py_dec / rust.core_decrypt_ns
    print(f"python:   Python / Rust Group         {re:.2f}x        {rd:.2f}x   (the 1.5x target is Kotlin's)")
    print(f"python:   for scale, a call that does nothing (epoch()) costs {us(statistics.median_low(noop)).strip()} from Python")


if __name__ == "__main__":
    try:
        scenario()
        timing()
    except BaseException:  # noqa: BLE001 - any failure fails the run
        print(f"python: FAILED after {checks} checks", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    print(f"python: all {checks} checks passed")
