//! Random sequences of Add, Update, Remove and commits on trees of up to
//! 1,000 leaves. After every step the cached tree hash must equal a
//! from-scratch recomputation and every parent-hash chain must verify; at the
//! end every index and the encode/decode round trip are checked. Failing
//! operations, alone or inside an atomic section, must leave the tree as it was.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

#[derive(Clone, Debug)]
enum Op {
    Add,
    Update(u32),
    Remove(u32),
    Commit(u32),
    /// An Add reusing a member's signature key: must fail and change nothing.
    FailingAdd(u32),
    /// Several changes then a failure inside one atomic section.
    FailingBatch(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Add),
        2 => any::<u32>().prop_map(Op::Update),
        3 => any::<u32>().prop_map(Op::Remove),
        3 => any::<u32>().prop_map(Op::Commit),
        1 => any::<u32>().prop_map(Op::FailingAdd),
        1 => any::<u32>().prop_map(Op::FailingBatch),
    ]
}

/// The `k`-th member, modulo the number of members.
fn pick(tree: &RatchetTree, k: u32) -> Option<LeafIndex> {
    let n = tree.member_count();
    (n > 0)
        .then(|| tree.members().nth((k % n) as usize).map(|(l, _)| l))
        .flatten()
}

fn check(tree: &RatchetTree, cs: &dyn CipherSuiteProvider) {
    assert_eq!(
        tree.tree_hash(cs).unwrap(),
        reference_tree_hash(cs, &tree.to_nodes(), tree.root()),
        "cached tree hash differs from a recomputation"
    );
    tree.verify_parent_hashes(cs).unwrap();
    tree.check_unmerged_leaves().unwrap();
    // The counted resolution (UpdatePath checks) is the built one's length,
    // with and without excluded leaves (every third member, unsorted).
    let mut excluded: Vec<LeafIndex> = tree.members().map(|(l, _)| l).step_by(3).collect();
    excluded.reverse();
    for i in (0..tree.size().node_count()).step_by(5) {
        let node = NodeIndex(i);
        for ex in [&[][..], &excluded[..]] {
            assert_eq!(
                tree.resolution_len_excluding(node, ex).unwrap(),
                tree.resolution_excluding(node, ex).unwrap().len()
            );
        }
    }
}

fn apply(tree: &mut RatchetTree, cs: &dyn CipherSuiteProvider, op: &Op, next_id: &mut u32) {
    *next_id += 1;
    let id = *next_id;
    match *op {
        Op::Add => {
            tree.add_leaf(unsigned_leaf(cs, id)).unwrap();
        }
        Op::Update(k) => {
            if let Some(l) = pick(tree, k) {
                let mut leaf = unsigned_leaf(cs, id);
                leaf.leaf_node_source = LeafNodeSource::Update;
                tree.update_leaf(l, leaf).unwrap();
            }
        }
        Op::Remove(k) => {
            // Keep at least one member so the tree stays encodable.
            if tree.member_count() > 1
                && let Some(l) = pick(tree, k)
            {
                tree.remove_leaf(l).unwrap();
            }
        }
        Op::Commit(k) => {
            if let Some(l) = pick(tree, k) {
                commit(tree, cs, l, None);
            }
        }
        Op::FailingAdd(k) => {
            let Some(l) = pick(tree, k) else { return };
            let before = tree.clone();
            let mut leaf = unsigned_leaf(cs, id);
            leaf.signature_key = tree.leaf(l).unwrap().signature_key.clone();
            assert!(tree.add_leaf(leaf).is_err());
            assert_eq!(*tree, before);
        }
        Op::FailingBatch(k) => {
            let Some(l) = pick(tree, k) else { return };
            let before = tree.clone();
            let dup = tree.leaf(l).unwrap().signature_key.clone();
            let r = tree.atomically(|t| {
                t.add_leaf(unsigned_leaf(cs, id + 1_000_000))?;
                t.add_leaf(unsigned_leaf(cs, id + 2_000_000))?;
                if let Some(m) = pick(t, k / 2) {
                    t.blank_direct_path(m)?;
                }
                // Not the holder of the duplicated key: removing it would
                // free the key and let the last Add succeed.
                if t.member_count() > 1
                    && let Some(m) = pick(t, k / 3)
                    && m != l
                {
                    t.remove_leaf(m)?;
                }
                let mut leaf = unsigned_leaf(cs, id + 3_000_000);
                leaf.signature_key = dup;
                t.add_leaf(leaf)
            });
            assert!(r.is_err());
            assert_eq!(*tree, before);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_hashes_and_parent_hashes_consistent(
        initial in 1u32..=1000,
        early_commits in vec(any::<u32>(), 0..6),
        ops in vec(op(), 1..25),
        seed in any::<u8>(),
    ) {
        let cs = provider(seed);
        let cs = &*cs;
        let mut tree = RatchetTree::new(SUITE, unsigned_leaf(cs, 0)).unwrap();
        for i in 1..initial {
            tree.add_leaf(unsigned_leaf(cs, i)).unwrap();
        }
        prop_assert_eq!(tree.leaf_count(), initial.next_power_of_two());
        for k in early_commits {
            let l = pick(&tree, k).unwrap();
            commit(&mut tree, cs, l, None);
        }
        check(&tree, cs);
        let mut next_id = initial;
        for op in &ops {
            apply(&mut tree, cs, op, &mut next_id);
            check(&tree, cs);
        }
        assert_consistent(&tree, cs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// A copy of a tree shares its nodes, key index and hash cache
    /// copy-on-write: whichever copy hashes first, and whether or not the
    /// shared cells were filled before the copy, each copy's tree hash is
    /// that of its own nodes, and its key index finds its own keys.
    #[test]
    fn copies_keep_their_own_hashes_and_keys(
        initial in 1u32..=300,
        hash_before_copy in vec(any::<bool>(), 12),
        copy_first in vec(any::<bool>(), 12),
        ops in vec(op(), 12),
        seed in any::<u8>(),
    ) {
        let cs = provider(seed);
        let cs = &*cs;
        let mut tree = RatchetTree::new(SUITE, unsigned_leaf(cs, 0)).unwrap();
        for i in 1..initial {
            tree.add_leaf(unsigned_leaf(cs, i)).unwrap();
        }
        let mut next_id = initial;
        for ((op, &hash_first), &copy_hashes_first) in ops.iter().zip(&hash_before_copy).zip(&copy_first) {
            if hash_first {
                tree.tree_hash(cs).unwrap();
            }
            let copy = tree.clone();
            let copy_nodes = copy.to_nodes();
            apply(&mut tree, cs, op, &mut next_id);
            let want_copy = reference_tree_hash(cs, &copy_nodes, copy.root());
            if copy_hashes_first {
                prop_assert_eq!(copy.tree_hash(cs).unwrap(), want_copy);
                check(&tree, cs);
            } else {
                check(&tree, cs);
                prop_assert_eq!(copy.tree_hash(cs).unwrap(), want_copy);
            }
            assert_consistent(&copy, cs);
            assert_consistent(&tree, cs);
            // Rebuilt from its nodes on the copy (as a restored past epoch
            // on the current tree), the tree is the same, hashes and keys included.
            let rebuilt = RatchetTree::from_nodes(SUITE, tree.to_nodes())
                .unwrap()
                .shared_with(&copy);
            prop_assert!(rebuilt == tree);
            assert_consistent(&rebuilt, cs);
            let back = RatchetTree::from_nodes(SUITE, copy.to_nodes())
                .unwrap()
                .shared_with(&tree);
            prop_assert!(back == copy);
            assert_consistent(&back, cs);
        }
    }
}
