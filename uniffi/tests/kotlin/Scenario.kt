// The Kotlin scenarios: the generated bindings (package `tessera`) compiled
// with this file and ClientScenario.kt by kotlinc and run on the JVM against
// the built library (see uniffi/run-tests.sh). Exits non-zero on the first
// failed check.
//
// ClientScenario.kt: what apps use, MlsClient (the Client, each in its own
// SQLite database). This file: the low-level MlsGroup (state in memory) with
// three members (alice, bob, carol): create, add, join, messages both ways,
// a Kotlin validator that refuses credentials (a join, an own add and a
// received commit are rejected, state unchanged), errors caught by their
// category, panics that stay on the Rust side, remove; and the cost of a
// 1 KiB encrypt and decrypt through the bindings beside the Rust figures,
// for MlsClient and for MlsGroup.

import tessera.*
import kotlin.system.exitProcess

val VALIDITY: ULong = 30uL * 86_400uL
val SUITE = CipherSuite.MLS128_DHKEMX25519_AES128GCM_SHA256_ED25519

var checks = 0

fun check(condition: Boolean, what: String) {
    if (!condition) throw AssertionError("check failed: $what")
    checks++
}

/** Runs [block], which must throw an exception of type [T]; returns it. */
inline fun <reified T : Throwable> expectThrows(what: String, block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) {
            checks++
            return e
        }
        throw AssertionError("$what: expected ${T::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${T::class.simpleName}, nothing was thrown")
}

fun basic(name: String) = Credential.Basic(name.toByteArray())

fun nameOf(c: Credential) = when (c) {
    is Credential.Basic -> String(c.identity)
    else -> "<non-basic>"
}

/** The app's policy: basic credentials whose name is not blocked. Records what it was shown. */
class NameValidator(private val blocked: Set<String> = emptySet()) : CredentialValidator {
    val seen = mutableListOf<String>()

    override fun validate(check: CredentialCheck): CredentialVerdict {
        val name = nameOf(check.credential)
        seen += "${check.usage}:$name"
        return when {
            check.credential !is Credential.Basic -> CredentialVerdict.Reject("only basic credentials")
            name in blocked -> CredentialVerdict.Reject("$name is blocked")
            else -> CredentialVerdict.Accept
        }
    }

    // No credential rotation in this app: a leaf's credential never changes.
    override fun sameParticipant(old: Credential, new: Credential) = nameOf(old) == nameOf(new)
}

/** A validator whose backend fails: it throws a Tessera error of its own. */
class LockedKeychainValidator : CredentialValidator {
    override fun validate(check: CredentialCheck): CredentialVerdict =
        throw TesseraException.Storage("keychain locked")

    override fun sameParticipant(old: Credential, new: Credential): Boolean =
        throw TesseraException.Storage("keychain locked")
}

/** A validator with a bug: it throws something that is not a Tessera error. */
class BuggyValidator : CredentialValidator {
    override fun validate(check: CredentialCheck): CredentialVerdict =
        throw IllegalStateException("bug in the app's validator")

    override fun sameParticipant(old: Credential, new: Credential): Boolean =
        throw IllegalStateException("bug in the app's validator")
}

/** A validator that (wrongly) calls back into a group. */
class ReentrantValidator(val group: MlsGroup) : CredentialValidator {
    var caught: Throwable? = null

    override fun validate(check: CredentialCheck): CredentialVerdict {
        try {
            group.epoch()
        } catch (e: Throwable) {
            caught = e
        }
        return CredentialVerdict.Accept
    }

    override fun sameParticipant(old: Credential, new: Credential) = nameOf(old) == nameOf(new)
}

fun receiveText(group: MlsGroup, bytes: ByteArray): Pair<UInt, String> {
    val r = group.process(bytes)
    check(r is Received.Application, "an application message, got $r")
    r as Received.Application
    return r.sender.leafIndex to String(r.data)
}

fun main() {
    val dir = kotlin.io.path.createTempDirectory("tessera-kotlin").toFile()
    try {
        clientScenario(dir)
        groupScenario()
        clientTiming(dir)
        timing()
        println("kotlin: all $checks checks passed")
    } catch (t: Throwable) {
        System.err.println("kotlin: FAILED after $checks checks")
        t.printStackTrace()
        exitProcess(1)
    } finally {
        dir.deleteRecursively()
    }
}

fun groupScenario() {
    val accept = NameValidator(blocked = setOf("mallory"))
    val alice = Identity(basic("alice"), SUITE)
    val bob = Identity(basic("bob"), SUITE)
    val carol = Identity(basic("carol"), SUITE)
    val mallory = Identity(basic("mallory"), SUITE)
    check(nameOf(alice.credential()) == "alice", "identity keeps its credential")
    check(alice.signatureKey().size == 32, "Ed25519 public key")

    // Alice creates the group and adds Bob.
    val groupA = MlsGroup.create(alice, "kotlin-group".toByteArray(), accept)
    check(groupA.epoch() == 0uL, "a new group is at epoch 0")
    val bobKp = bob.generateKeyPackage(VALIDITY)
    val addBob = groupA.addMembers(listOf(bobKp.keyPackage()))
    check(addBob.welcome != null, "an add carries a Welcome")
    check(groupA.hasPendingCommit(), "the commit is pending until merged")
    groupA.mergePendingCommit()
    check(groupA.epoch() == 1uL, "epoch 1 after the add")

    val bobValidator = NameValidator(blocked = setOf("mallory"))
    val groupB = MlsGroup.join(bob, bobKp, addBob.welcome!!, bobValidator)
    check(bobKp.isSpent(), "joining deletes the KeyPackage's private keys")
    check(bobValidator.seen == listOf("TREE_MEMBER:alice", "TREE_MEMBER:bob"), "validator saw the tree: ${bobValidator.seen}")
    expectThrows<TesseraException.ApiMisuse>("a spent KeyPackage cannot join again") {
        MlsGroup.join(bob, bobKp, addBob.welcome!!, bobValidator)
    }

    // Alice adds Carol; Bob follows the commit. Carol's first join attempt
    // uses a validator that refuses Alice: rejected, her KeyPackage kept.
    val carolKp = carol.generateKeyPackage(VALIDITY)
    val addCarol = groupA.addMembers(listOf(carolKp.keyPackage()))
    groupA.mergePendingCommit()
    val seen = groupB.process(addCarol.commit)
    check(seen is Received.Commit, "bob sees a commit")
    seen as Received.Commit
    check(seen.summary.epoch == 2uL && seen.summary.committerLeaf == 0u, "commit summary: ${seen.summary}")
    check(seen.summary.added.map { nameOf(it.credential) } == listOf("carol"), "carol added")
    check(bobValidator.seen.last() == "ADDED:carol", "bob's validator saw carol added")

    val refused = expectThrows<TesseraException.ProtocolViolation>("carol refuses alice's credential") {
        MlsGroup.join(carol, carolKp, addCarol.welcome!!, NameValidator(blocked = setOf("alice")))
    }
    check(refused.detail.contains("alice is blocked"), "the rejection keeps the validator's reason: ${refused.detail}")
    check(!carolKp.isSpent(), "a refused join keeps the KeyPackage")
    val groupC = MlsGroup.join(carol, carolKp, addCarol.welcome!!, NameValidator(blocked = setOf("mallory")))

    val all = listOf(groupA, groupB, groupC)
    check(all.all { it.epoch() == 2uL }, "everyone at epoch 2")
    check(all.map { it.epochAuthenticator().toList() }.toSet().size == 1, "epoch authenticators agree")
    check(groupC.members().map { nameOf(it.credential) } == listOf("alice", "bob", "carol"), "members by leaf")
    check(groupC.ownLeafIndex() == 2u, "carol at leaf 2")

    // Messages both ways: each member sends, the two others read.
    for ((i, sender) in all.withIndex()) {
        val text = "hello from ${listOf("alice", "bob", "carol")[i]}"
        val ct = sender.encryptWithAuthenticatedData(text.toByteArray(), "ad-$i".toByteArray())
        for ((j, receiver) in all.withIndex()) {
            if (i == j) continue
            val r = receiver.process(ct)
            check(r is Received.Application, "application message")
            r as Received.Application
            check(r.sender.leafIndex == i.toUInt() && String(r.data) == text, "member $j reads member $i")
            check(nameOf(r.sender.credential) == listOf("alice", "bob", "carol")[i], "the sender's credential")
            check(String(r.authenticatedData) == "ad-$i" && r.epoch == 2uL, "authenticated data and epoch")
        }
    }

    // Errors, caught by category.
    expectThrows<TesseraException.BadBytes>("garbage is bad bytes") { groupB.process(byteArrayOf(1, 2, 3)) }
    expectThrows<TesseraException.BadBytes>("a KeyPackage is not a Welcome") {
        MlsGroup.join(carol, carol.generateKeyPackage(VALIDITY), bobKp.keyPackage(), accept)
    }
    expectThrows<TesseraException.BadBytes>("not a KeyPackage") { groupA.addMembers(listOf(ByteArray(0))) }
    val ct = groupA.encrypt("once".toByteArray())
    check(receiveText(groupB, ct).second == "once", "first delivery decrypts")
    val replay = expectThrows<TesseraException.ProtocolViolation>("a replay is refused") { groupB.process(ct) }
    println("kotlin: replay refused: ${replay.detail}")
    val tampered = groupA.encrypt("tampered".toByteArray())
    tampered[tampered.size - 1] = (tampered[tampered.size - 1].toInt() xor 1).toByte()
    val bad = expectThrows<TesseraException>("a tampered message is refused") { groupC.process(tampered) }
    check(bad is TesseraException.Crypto || bad is TesseraException.ProtocolViolation, "tampering: $bad")
    expectThrows<TesseraException.ApiMisuse>("no pending commit to merge") { groupB.mergePendingCommit() }

    // The validator refuses: an own add, a received commit (state unchanged).
    val malloryKp = mallory.generateKeyPackage(VALIDITY)
    expectThrows<TesseraException.ProtocolViolation>("alice's validator refuses to add mallory") {
        groupA.addMembers(listOf(malloryKp.keyPackage()))
    }
    check(!groupA.hasPendingCommit(), "no commit was built")
    // A received commit refused: here alice's app uses a lenient policy
    // (no one blocked) and adds mallory; bob's policy refuses the commit.
    val aliceLenient = MlsGroup.create(alice, "kotlin-commit-reject".toByteArray(), NameValidator())
    val bobKp2 = bob.generateKeyPackage(VALIDITY)
    val add2 = aliceLenient.addMembers(listOf(bobKp2.keyPackage()))
    aliceLenient.mergePendingCommit()
    val bob2 = MlsGroup.join(bob, bobKp2, add2.welcome!!, NameValidator(blocked = setOf("mallory")))
    val mallory2 = mallory.generateKeyPackage(VALIDITY)
    val addMallory = aliceLenient.addMembers(listOf(mallory2.keyPackage()))
    val before = bob2.epochAuthenticator()
    val rejected = expectThrows<TesseraException.ProtocolViolation>("bob refuses the commit adding mallory") {
        bob2.process(addMallory.commit)
    }
    check(rejected.detail.contains("mallory is blocked"), "reason kept: ${rejected.detail}")
    check(bob2.epoch() == 1uL && bob2.epochAuthenticator().contentEquals(before), "bob's group unchanged")
    aliceLenient.discardPendingCommit() // the delivery service refused it
    check(receiveText(bob2, aliceLenient.encrypt("still here".toByteArray())).second == "still here",
        "the group goes on after the refused commit")

    // A validator that throws: a TesseraException passes through as thrown,
    // anything else becomes Internal; re-entering a group is refused.
    val kp3 = bob.generateKeyPackage(VALIDITY)
    val add3 = MlsGroup.create(alice, "throwing".toByteArray(), NameValidator()).let {
        val out = it.addMembers(listOf(kp3.keyPackage()))
        it.mergePendingCommit()
        out
    }
    val storage = expectThrows<TesseraException.Storage>("the validator's own error passes through") {
        MlsGroup.join(bob, kp3, add3.welcome!!, LockedKeychainValidator())
    }
    check(storage.detail == "keychain locked", "its detail kept")
    val internal = expectThrows<TesseraException.Internal>("an unexpected exception becomes Internal") {
        MlsGroup.join(bob, kp3, add3.welcome!!, BuggyValidator())
    }
    check(internal.detail.contains("bug in the app's validator"), "its message kept: ${internal.detail}")
    val reentrant = ReentrantValidator(groupA)
    MlsGroup.join(bob, kp3, add3.welcome!!, reentrant)
    check(reentrant.caught is TesseraException.ApiMisuse, "a call back into a group from a validator is refused: ${reentrant.caught}")

    // No panic crosses the boundary.
    val p = expectThrows<TesseraException.Internal>("a panic inside the guard is Internal") { testingPanic("boom") }
    check(p.detail.contains("boom"), "panic message kept")
    expectThrows<InternalException>("a panic outside our guard is UniFFI's InternalException") {
        testingPanicUnguarded("boom")
    }
    val scratch = MlsGroup.create(alice, "scratch".toByteArray(), accept)
    expectThrows<TesseraException.Internal>("a panic while the group is locked") { testingPanicInside(scratch) }
    expectThrows<TesseraException.Internal>("the group is not used after that") { scratch.epoch() }
    check(groupA.epoch() == 2uL, "other groups are unaffected")

    // Alice removes Carol. Bob follows; Carol learns she was removed.
    val removeCarol = groupA.removeMembers(listOf(2u))
    check(removeCarol.welcome == null, "a remove has no Welcome")
    groupA.mergePendingCommit()
    val bobSees = groupB.process(removeCarol.commit)
    check(bobSees is Received.Commit && bobSees.summary.removed.map { nameOf(it.credential) } == listOf("carol"),
        "bob sees carol removed: $bobSees")
    val carolSees = groupC.process(removeCarol.commit)
    check(carolSees is Received.Removed, "carol learns she was removed: $carolSees")
    check(!groupC.isActive(), "carol's group is inactive")
    expectThrows<TesseraException.ApiMisuse>("a removed member cannot send") {
        groupC.encrypt("hi".toByteArray())
    }
    val after = groupA.encrypt("carol can't read this".toByteArray())
    check(receiveText(groupB, after).second == "carol can't read this", "bob reads the new epoch")
    expectThrows<TesseraException>("carol cannot read the new epoch") { groupC.process(after) }
    check(groupA.epochAuthenticator().contentEquals(groupB.epochAuthenticator()), "alice and bob agree")

    for (o in listOf<AutoCloseable>(groupA, groupB, groupC, alice, bob, carol, mallory)) o.close()
    println("kotlin: MlsGroup scenario passed")
}

/** Median cost of encrypt and of decrypt of 1 KiB through MlsGroup, beside the Rust figures. */
fun timing() {
    val iterations = 5000
    val warmup = 5000
    val payload = ByteArray(1024) { 0x5a }
    val validator = NameValidator()
    val a = Identity(basic("alice"), SUITE)
    val b = Identity(basic("bob"), SUITE)
    val kp = b.generateKeyPackage(VALIDITY)
    val ga = MlsGroup.create(a, "timing".toByteArray(), validator)
    val add = ga.addMembers(listOf(kp.keyPackage()))
    ga.mergePendingCommit()
    val gb = MlsGroup.join(b, kp, add.welcome!!, validator)

    repeat(warmup) { gb.process(ga.encrypt(payload)) } // JIT warm-up
    val enc = LongArray(iterations)
    val dec = LongArray(iterations)
    val noop = LongArray(iterations)
    for (i in 0 until iterations) {
        val t0 = System.nanoTime()
        val ct = ga.encrypt(payload)
        val t1 = System.nanoTime()
        val r = gb.process(ct)
        val t2 = System.nanoTime()
        ga.epoch()
        val t3 = System.nanoTime()
        if (r !is Received.Application || !r.data.contentEquals(payload)) throw AssertionError("timing round trip")
        enc[i] = t1 - t0
        dec[i] = t2 - t1
        noop[i] = t3 - t2
    }
    enc.sort(); dec.sort(); noop.sort()
    val ktEnc = enc[iterations / 2]
    val ktDec = dec[iterations / 2]
    val rust = testingRustTiming(iterations.toUInt(), 1024u)
    fun us(ns: Long) = String.format("%8.1f µs", ns / 1000.0)
    println("kotlin: MlsGroup (state in memory), 1 KiB application message, median of $iterations calls (after $warmup warm-up), one process:")
    println("kotlin:                               encrypt      decrypt")
    println("kotlin:   Rust, tessera Group      ${us(rust.coreEncryptNs.toLong())}  ${us(rust.coreDecryptNs.toLong())}")
    println("kotlin:   Rust, bindings' adapter  ${us(rust.adapterEncryptNs.toLong())}  ${us(rust.adapterDecryptNs.toLong())}")
    println("kotlin:   Kotlin through JNA       ${us(ktEnc)}  ${us(ktDec)}")
    val re = ktEnc.toDouble() / rust.coreEncryptNs.toLong()
    val rd = ktDec.toDouble() / rust.coreDecryptNs.toLong()
    println(String.format("kotlin:   Kotlin / Rust Group         %.2fx        %.2fx   (target: within 1.5x; %s)",
        re, rd, if (re <= 1.5 && rd <= 1.5) "met" else "NOT met"))
    println("kotlin:   for scale, a call that does nothing (epoch()) costs ${us(noop[iterations / 2]).trim()} from Kotlin")
    for (o in listOf<AutoCloseable>(ga, gb, a, b)) o.close()
}
