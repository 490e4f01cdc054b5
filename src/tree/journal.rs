//! The undo log behind [`RatchetTree::atomically`]: while an atomic section
//! runs, every node replaced and every change of size is recorded, and a
//! failure replays the log backwards. Undoing costs O(changes × log N); no
//! copy of the tree is made.

use super::RatchetTree;
use std::sync::Arc;

use crate::error::Result;
use crate::messages::Node;
use crate::tree_math::{NodeIndex, TreeSize};

/// One recorded change.
#[derive(Clone, Debug)]
enum Entry {
    /// The node at this index held this value before.
    Node(NodeIndex, Option<Arc<Node>>),
    /// The tree had this size before.
    Resized(TreeSize),
}

/// The undo log; inactive (`None`) outside atomic sections.
#[derive(Clone, Debug, Default)]
pub(super) struct Journal {
    log: Option<Vec<Entry>>,
}

/// Where an atomic section started.
#[derive(Clone, Copy, Debug)]
struct Mark {
    len: usize,
    outermost: bool,
}

impl Journal {
    /// Records the old value of a replaced node, if a section is running.
    pub(super) fn record_node(&mut self, at: NodeIndex, old: Option<Arc<Node>>) {
        if let Some(log) = &mut self.log {
            log.push(Entry::Node(at, old));
        }
    }

    /// Records the old size before a resize, if a section is running.
    pub(super) fn record_resize(&mut self, old: TreeSize) {
        if let Some(log) = &mut self.log {
            log.push(Entry::Resized(old));
        }
    }

    fn begin(&mut self) -> Mark {
        match &self.log {
            Some(log) => Mark {
                len: log.len(),
                outermost: false,
            },
            None => {
                self.log = Some(Vec::new());
                Mark {
                    len: 0,
                    outermost: true,
                }
            }
        }
    }

    fn end(&mut self, mark: Mark) {
        if mark.outermost {
            self.log = None;
        }
    }
}

impl RatchetTree {
    /// Runs `f` on the tree as one atomic change: if `f` fails, every change
    /// it made is undone and the tree is exactly as before (nodes, indexes,
    /// size; cached hashes are recomputed on demand). Sections may nest.
    ///
    /// Use it to apply a commit: proposals, then the UpdatePath, then checks;
    /// the tree changes only if all of them succeed.
    pub fn atomically<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let mark = self.journal.begin();
        match f(self) {
            Ok(v) => {
                self.journal.end(mark);
                Ok(v)
            }
            Err(e) => {
                self.roll_back(mark);
                Err(e)
            }
        }
    }

    /// Undoes the changes recorded since `mark`.
    fn roll_back(&mut self, mark: Mark) {
        // Take the log out so that undoing records nothing.
        let Some(mut log) = self.journal.log.take() else {
            return;
        };
        while log.len() > mark.len {
            match log.pop() {
                Some(Entry::Node(at, old)) => self.replace_node(at, old),
                Some(Entry::Resized(size)) => self.resize(size),
                None => break,
            }
        }
        if !mark.outermost {
            self.journal.log = Some(log);
        }
    }
}
