// The Client scenario in Kotlin: what an Android app does with MlsClient.
//
// Three clients (alice, bob, carol), each with its own database file in a
// temporary directory and its own key: create a group, add, messages both
// ways; bob's app stops and his client is reopened from its database (a
// wrong key is refused) and continues; a Kotlin validator refuses a
// credential (the commit that brings it is rejected, state unchanged; an
// own add of it is refused); a Kotlin proposal policy refuses a proposal;
// errors caught by their category, bad paths and keys included; panics stay
// on the Rust side; alice removes carol.

import tessera.*
import java.io.File

/**
 * The app's proposal policy: removals come inside commits (by an admin),
 * never as standalone proposals from members. Records what it was asked.
 */
class NoRemovalProposals : ProposalPolicy {
    val seen = mutableListOf<String>()

    override fun accept(origin: ProposalOrigin, proposal: ProposalKind): Boolean {
        val from = origin.credential?.let { nameOf(it) } ?: "?"
        seen += "${origin.senderType}:$from:${proposal::class.simpleName}:${if (origin.inCommit) "in commit" else "alone"}"
        return !(proposal is ProposalKind.Remove && !origin.inCommit)
    }

    override fun commit(groupId: ByteArray, proposal: ProposalKind) = true
}

/** Application text of the one event [events] should hold: (sender leaf, sender name, text). */
fun appText(events: List<Event>): Triple<UInt, String, String> {
    check(events.size == 1 && events[0] is Event.Application, "one application message, got $events")
    val e = events[0] as Event.Application
    return Triple(e.sender.leafIndex, nameOf(e.sender.credential), String(e.data))
}

fun clientScenario(dir: File) {
    fun db(name: String) = File(dir, "$name.db").path
    val keys = listOf("alice", "bob", "carol", "mallory").associateWith { generateStoreKey() }
    check(keys.values.all { it.size == 32 }, "store keys are 32 bytes")

    val alicePolicy = NoRemovalProposals()
    val alice = MlsClient.create(db("alice"), keys["alice"]!!, basic("alice"),
        NameValidator(blocked = setOf("mallory")), alicePolicy)
    val bobValidator = NameValidator(blocked = setOf("mallory"))
    var bob = MlsClient.create(db("bob"), keys["bob"]!!, basic("bob"), bobValidator)
    // Carol's app is lenient: it would let mallory in.
    val carol = MlsClient.create(db("carol"), keys["carol"]!!, basic("carol"), NameValidator(),
        settings = StoreSettings(durable = true, busyTimeoutMs = 2000uL))
    val mallory = MlsClient.create(db("mallory"), keys["mallory"]!!, basic("mallory"), NameValidator())
    check(nameOf(alice.credential()) == "alice" && alice.signatureKey().size == 32, "alice's identity")
    check(alice.cipherSuite() == SUITE, "the default cipher suite")

    // Alice creates the group and adds bob and carol.
    val groupId = "kotlin-chat".toByteArray()
    val ga = alice.createGroup(groupId)
    check(ga.epoch() == 0uL && ga.members().size == 1, "a new group: epoch 0, alice alone")
    val added = ga.add(listOf(bob.generateKeyPackages(1u)[0], carol.generateKeyPackages(1u)[0]))
    check(added.welcome != null && added.leftOut.isEmpty(), "an add carries a Welcome")
    check(ga.status().pendingCommit, "the commit is pending until the delivery service accepts it")
    val merged = ga.confirmCommit()
    check(merged.size == 1 && merged[0] is Event.CommitMerged, "confirming merges: $merged")
    val m = merged[0] as Event.CommitMerged
    check(m.own && m.epoch == 1uL && m.added.map { nameOf(it.credential) } == listOf("bob", "carol"), "added: $m")
    var gb = bob.join(added.welcome!!)
    val gc = carol.join(added.welcome!!)
    check(bobValidator.seen == listOf("TREE_MEMBER:alice", "TREE_MEMBER:carol"),
        "bob's validator saw the other members: ${bobValidator.seen}")
    check(bob.groupIds().map { String(it) } == listOf("kotlin-chat"), "bob lists his group")
    val all = listOf(ga, gb, gc)
    check(all.all { it.epoch() == 1uL }, "everyone at epoch 1")
    check(all.map { it.epochAuthenticator().toList() }.toSet().size == 1, "safety codes agree")
    check(gc.members().map { nameOf(it.credential) } == listOf("alice", "bob", "carol"), "members by leaf")
    check(gc.ownLeafIndex() == 2u && gc.status().memberCount == 3u, "carol at leaf 2 of 3")

    // Messages both ways: each sends, the two others read.
    val clients = listOf(alice, bob, carol)
    val names = listOf("alice", "bob", "carol")
    for ((i, g) in all.withIndex()) {
        val ct = g.encryptWithAuthenticatedData("hello from ${names[i]}".toByteArray(), "ad-$i".toByteArray())
        for ((j, c) in clients.withIndex()) {
            if (i == j) continue
            val events = c.process(ct)
            check(appText(events) == Triple(i.toUInt(), names[i], "hello from ${names[i]}"), "${names[j]} reads ${names[i]}")
            val e = events[0] as Event.Application
            check(String(e.authenticatedData) == "ad-$i" && e.epoch == 1uL && e.groupId.contentEquals(groupId),
                "authenticated data, epoch and group")
        }
    }
    println("kotlin: client: three clients in ${dir.listFiles()!!.count { it.name.endsWith(".db") }} database files talk")

    // Bob's app stops. Alice and carol go on; bob's client is reopened from
    // its file and continues.
    val bobEpoch = gb.epoch()
    bob.closeStore()
    expectThrows<TesseraException.ApiMisuse>("a closed client refuses calls") { gb.epoch() }
    gb.close(); bob.close()
    val missed = listOf(ga.encrypt("bob, are you there?".toByteArray()), gc.encrypt("he'll read it later".toByteArray()))
    alice.process(missed[1])
    val wrongKey = expectThrows<TesseraException.Storage>("bob's database under another key") {
        MlsClient.open(db("bob"), generateStoreKey(), bobValidator)
    }
    println("kotlin: client: wrong key refused: ${wrongKey.detail}")
    bob = MlsClient.open(db("bob"), keys["bob"]!!, bobValidator)
    check(bob.groupIds().map { String(it) } == listOf("kotlin-chat"), "bob's groups are back")
    gb = bob.group(groupId)
    check(gb.epoch() == bobEpoch && gb.members().size == 3, "bob's group as he left it")
    check(missed.map { appText(bob.process(it)).third } == listOf("bob, are you there?", "he'll read it later"),
        "bob reads what he missed")
    val back = gb.encrypt("back again".toByteArray())
    check(appText(alice.process(back)).third == "back again" && appText(carol.process(back)).third == "back again",
        "bob's reopened client sends")
    println("kotlin: client: bob reopened from ${File(bob.path()).name} at epoch $bobEpoch and continues")

    // A Kotlin validator refuses a credential. Carol (lenient) adds mallory:
    // bob's and alice's validators refuse the commit; nothing changes.
    val malloryKp = mallory.generateKeyPackages(1u)[0]
    val addMallory = gc.add(listOf(malloryKp))
    val before = gb.epochAuthenticator()
    val rejected = expectThrows<TesseraException.ProtocolViolation>("bob's validator refuses mallory") {
        bob.process(addMallory.commit)
    }
    check(rejected.detail.contains("mallory is blocked"), "the validator's reason is kept: ${rejected.detail}")
    check(bobValidator.seen.last() == "ADDED:mallory", "bob's validator was asked: ${bobValidator.seen.last()}")
    check(gb.epoch() == 1uL && gb.epochAuthenticator().contentEquals(before), "bob's group unchanged")
    expectThrows<TesseraException.ProtocolViolation>("alice's validator refuses mallory too") {
        alice.process(addMallory.commit)
    }
    check(gc.discardCommit(), "the delivery service refused carol's commit: she discards it")
    println("kotlin: client: commit adding mallory rejected: ${rejected.detail}")
    expectThrows<TesseraException.ProtocolViolation>("alice's own add of mallory is refused") {
        ga.add(listOf(mallory.generateKeyPackages(1u)[0]))
    }
    check(!ga.status().pendingCommit, "no commit was built")
    val still = gc.encrypt("still three of us".toByteArray())
    check(appText(bob.process(still)).third == "still three of us", "the group goes on")
    alice.process(still)

    // A Kotlin proposal policy: alice's app takes no removal proposals.
    val proposal = gc.proposeRemove(1u)
    val refusedProposal = expectThrows<TesseraException.ProtocolViolation>("alice's policy refuses it") {
        alice.process(proposal)
    }
    check(alicePolicy.seen.last() == "MEMBER:carol:Remove:alone", "the policy was asked: ${alicePolicy.seen}")
    check(ga.pendingProposals().isEmpty(), "not cached: ${refusedProposal.detail}")

    // Errors, caught by category; none is a crash.
    expectThrows<TesseraException.BadBytes>("garbage is bad bytes") { bob.process(byteArrayOf(1, 2, 3)) }
    expectThrows<TesseraException.BadBytes>("not a KeyPackage") { ga.add(listOf(ByteArray(0))) }
    expectThrows<TesseraException.ApiMisuse>("no such group") { alice.group("nope".toByteArray()) }
    expectThrows<TesseraException.ApiMisuse>("the group exists") { alice.createGroup(groupId) }
    expectThrows<TesseraException.ApiMisuse>("nothing to confirm") { ga.confirmCommit() }
    expectThrows<TesseraException.ApiMisuse>("a store key is 32 bytes") {
        MlsClient.create(db("short-key"), ByteArray(31), basic("x"), NameValidator())
    }
    expectThrows<TesseraException.ApiMisuse>("one client per database") {
        MlsClient.create(db("alice"), keys["alice"]!!, basic("alice2"), NameValidator())
    }
    val badPath = expectThrows<TesseraException.Storage>("a path in a missing directory") {
        MlsClient.create(File(dir, "no/such/dir/x.db").path, generateStoreKey(), basic("x"), NameValidator())
    }
    expectThrows<TesseraException.Storage>("no database to open") {
        MlsClient.open(db("absent"), generateStoreKey(), NameValidator())
    }
    File(dir, "junk.db").writeText("not a database, not even close to one")
    expectThrows<TesseraException.Storage>("a file that is not a store") {
        MlsClient.open(db("junk"), generateStoreKey(), NameValidator())
    }
    println("kotlin: client: bad path refused: ${badPath.detail}")
    val once = ga.encrypt("once".toByteArray())
    check(appText(bob.process(once)).third == "once", "first delivery decrypts")
    val replay = expectThrows<TesseraException>("a replay is refused") { bob.process(once) }
    println("kotlin: client: replay refused as ${replay::class.simpleName}: ${replay.message}")
    carol.process(once)

    // A throwing validator: its own error comes back as thrown.
    val throwing = MlsClient.create(db("throwing"), generateStoreKey(), basic("dave"), LockedKeychainValidator())
    val ga2 = alice.createGroup("second".toByteArray())
    val add2 = ga2.add(listOf(throwing.generateKeyPackages(1u)[0]))
    ga2.confirmCommit()
    val locked = expectThrows<TesseraException.Storage>("the validator's own error") { throwing.join(add2.welcome!!) }
    check(locked.detail == "keychain locked" && throwing.groupIds().isEmpty(), "passed through, nothing joined")
    check(alice.deleteGroup("second".toByteArray()), "alice deletes the second group")

    // No panic crosses the boundary.
    expectThrows<TesseraException.Internal>("a panic inside the guard") { testingPanic("boom") }
    expectThrows<InternalException>("a panic outside our guard") { testingPanicUnguarded("boom") }

    // Alice removes carol.
    val removal = ga.remove(listOf(2u))
    check(removal.welcome == null, "a removal has no Welcome")
    val own = ga.confirmCommit()
    check(own.size == 1 && (own[0] as Event.CommitMerged).removed.map { nameOf(it.credential) } == listOf("carol"),
        "alice's commit removed carol: $own")
    val bobSees = bob.process(removal.commit)
    check(bobSees.size == 1 && bobSees[0] is Event.CommitMerged && (bobSees[0] as Event.CommitMerged).committerLeaf == 0u,
        "bob merges alice's commit: $bobSees")
    val carolSees = carol.process(removal.commit)
    check(carolSees.size == 1 && carolSees[0] is Event.Removed && (carolSees[0] as Event.Removed).byLeaf == 0u,
        "carol learns she was removed: $carolSees")
    check(gc.status().inactive == InactiveReason.REMOVED, "carol's group is inactive")
    expectThrows<TesseraException.ApiMisuse>("a removed member cannot send") { gc.encrypt("hi".toByteArray()) }
    val after = gb.encrypt("just us two".toByteArray())
    check(appText(alice.process(after)).third == "just us two", "alice reads bob in epoch 2")
    expectThrows<TesseraException>("carol cannot read epoch 2") { carol.process(after) }
    check(ga.epoch() == 2uL && ga.epochAuthenticator().contentEquals(gb.epochAuthenticator()), "alice and bob agree")

    for (o in listOf<AutoCloseable>(ga, gb, gc, ga2, alice, bob, carol, mallory, throwing)) o.close()
    println("kotlin: MlsClient scenario passed")
}

/**
 * Median cost of encrypt and of decrypt of 1 KiB through MlsClient (SQLite),
 * beside the Rust figures. The machine is shared, so Kotlin and Rust are
 * measured in alternating rounds (Kotlin, then Rust, six times); each
 * figure is the median of the six rounds' medians.
 */
fun clientTiming(dir: File) {
    val rounds = 6
    val perRound = 500
    val warmup = 3000
    val payload = ByteArray(1024) { 0x5a }
    val timingDir = File(dir, "timing").apply { mkdirs() }
    val key = generateStoreKey()
    val a = MlsClient.create(File(timingDir, "kotlin-alice.db").path, key, basic("alice"), NameValidator())
    val b = MlsClient.create(File(timingDir, "kotlin-bob.db").path, key, basic("bob"), NameValidator())
    val ga = a.createGroup("timing".toByteArray())
    val add = ga.add(b.generateKeyPackages(1u))
    ga.confirmCommit()
    b.join(add.welcome!!).close()

    repeat(warmup) { b.process(ga.encrypt(payload)) } // JIT warm-up
    fun median(v: LongArray) = v.sorted()[v.size / 2]
    val kt = Array(2) { LongArray(rounds) }
    val rust = Array(4) { LongArray(rounds) }
    for (round in 0 until rounds) {
        val enc = LongArray(perRound)
        val dec = LongArray(perRound)
        for (i in 0 until perRound) {
            val t0 = System.nanoTime()
            val ct = ga.encrypt(payload)
            val t1 = System.nanoTime()
            val r = b.process(ct)
            val t2 = System.nanoTime()
            if (r.size != 1 || !(r[0] as Event.Application).data.contentEquals(payload)) throw AssertionError("timing round trip")
            enc[i] = t1 - t0
            dec[i] = t2 - t1
        }
        kt[0][round] = median(enc)
        kt[1][round] = median(dec)
        val roundDir = File(timingDir, "rust-$round").apply { mkdirs() }
        val r = testingRustClientTiming(roundDir.path, perRound.toUInt(), 1024u)
        rust[0][round] = r.coreEncryptNs.toLong()
        rust[1][round] = r.coreDecryptNs.toLong()
        rust[2][round] = r.adapterEncryptNs.toLong()
        rust[3][round] = r.adapterDecryptNs.toLong()
    }
    val (ktEnc, ktDec) = kt.map { median(it) }
    val (coreEnc, coreDec, adEnc, adDec) = rust.map { median(it) }
    fun us(ns: Long) = String.format("%8.1f µs", ns / 1000.0)
    println("kotlin: MlsClient (each client in its own SQLite file, synchronous NORMAL), 1 KiB application message,")
    println("kotlin: median of $rounds alternating rounds' medians of $perRound calls (after $warmup warm-up), one process:")
    println("kotlin:                               encrypt      decrypt")
    println("kotlin:   Rust, tessera Client     ${us(coreEnc)}  ${us(coreDec)}")
    println("kotlin:   Rust, bindings' adapter  ${us(adEnc)}  ${us(adDec)}")
    println("kotlin:   Kotlin through JNA       ${us(ktEnc)}  ${us(ktDec)}")
    val re = ktEnc.toDouble() / coreEnc
    val rd = ktDec.toDouble() / coreDec
    println(String.format("kotlin:   Kotlin / Rust Client        %.2fx        %.2fx   (target: within 1.5x; %s)",
        re, rd, if (re <= 1.5 && rd <= 1.5) "met" else "NOT met"))
    for (o in listOf<AutoCloseable>(ga, a, b)) o.close()
}
