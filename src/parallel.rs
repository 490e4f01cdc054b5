//! Data parallelism for independent cryptographic work (HPKE encryptions to
//! many recipients, signature verifications of many leaves).
//!
//! With the crate feature `parallel` (on by default) the work runs on rayon's
//! global thread pool; without it, in order on the calling thread. Results
//! are in input order either way, so the output does not depend on the
//! feature or on the number of threads.

/// `items.iter().map(f).collect()`, in parallel with the feature `parallel`.
#[cfg(feature = "parallel")]
pub(crate) fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync + Send,
{
    use rayon::prelude::*;
    // Below this many items the hand-off to the pool costs more than it
    // saves; with one thread it saves nothing (the caller would only wait,
    // asleep, for the pool's one thread to do the work).
    if items.len() < 2 || threads() <= 1 {
        return items.iter().map(f).collect();
    }
    items.par_iter().map(f).collect()
}

/// `items.iter().map(f).collect()` (the crate feature `parallel` is off).
#[cfg(not(feature = "parallel"))]
pub(crate) fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    F: Fn(&T) -> R,
{
    items.iter().map(f).collect()
}

/// The number of threads [`map`] and [`join`] can use.
#[cfg(feature = "parallel")]
pub(crate) fn threads() -> usize {
    rayon::current_num_threads()
}

/// The number of threads [`map`] and [`join`] can use (one: the crate
/// feature `parallel` is off).
#[cfg(not(feature = "parallel"))]
pub(crate) fn threads() -> usize {
    1
}

/// `(a(), b())`, the two run in parallel with the feature `parallel`.
#[cfg(feature = "parallel")]
pub(crate) fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    // With one thread, rayon would hand both to the pool and wait for them.
    if threads() <= 1 {
        let ra = a();
        return (ra, b());
    }
    rayon::join(a, b)
}

/// `(a(), b())` (the crate feature `parallel` is off).
#[cfg(not(feature = "parallel"))]
pub(crate) fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB,
{
    let ra = a();
    (ra, b())
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_input_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = super::map(&items, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u32], |x| *x).is_empty());
    }

    #[test]
    fn join_returns_both_in_place() {
        assert_eq!(super::join(|| 1, || "two"), (1, "two"));
    }
}
