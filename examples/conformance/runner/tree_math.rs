//! `tree-math.json`: RFC 9420 Appendix C array tree arithmetic.

use super::Outcome;
use super::json::{Case, array, outcome, uint};
use tessera::tree_math::{NodeIndex, TreeSize};

pub fn check(case: &Case) -> Outcome {
    outcome(run(case))
}

fn run(case: &Case) -> Result<(), String> {
    let n_leaves = u32::try_from(uint(case, "n_leaves")?).map_err(|e| e.to_string())?;
    let size = TreeSize::new(n_leaves).ok_or("n_leaves is not a power of two")?;
    let want = |name: &str, v: u64| -> Result<(), String> {
        if uint(case, name)? == v {
            Ok(())
        } else {
            Err(format!("{name}: got {v}, want {}", uint(case, name)?))
        }
    };
    want("n_nodes", u64::from(size.node_count()))?;
    want("root", u64::from(size.root().0))?;
    type Step<'a> = &'a dyn Fn(NodeIndex) -> Option<NodeIndex>;
    let fields: [(&str, Step); 4] = [
        ("left", &|x: NodeIndex| x.left()),
        ("right", &|x: NodeIndex| x.right()),
        ("parent", &|x| size.parent(x)),
        ("sibling", &|x| size.sibling(x)),
    ];
    for (name, f) in fields {
        let expected = array(case, name)?;
        if expected.len() != size.node_count() as usize {
            return Err(format!("{name}: array has {} entries", expected.len()));
        }
        for (i, e) in expected.iter().enumerate() {
            let got = f(NodeIndex(i as u32)).map(|n| u64::from(n.0));
            if got != e.as_u64() {
                return Err(format!("{name}[{i}]: got {got:?}, want {e}"));
            }
        }
    }
    Ok(())
}
