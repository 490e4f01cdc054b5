//! How much zero padding a sender adds to a PrivateMessageContent
//! (RFC 9420 §6.3.1: "It is up to the application to decide ... how much
//! padding to add to a given message").

use core::num::NonZeroUsize;

/// A sender's padding policy for PrivateMessages (RFC 9420 §6.3.1). Padding
/// hides the exact length of the content; the receiver only checks it is zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum PaddingPolicy {
    /// No padding.
    #[default]
    None,
    /// Pad the plaintext (content, authentication data and padding) up to the
    /// next multiple of this many bytes.
    MultipleOf(NonZeroUsize),
    /// Pad the plaintext up to the next power of two, but at least this many
    /// bytes: lengths then reveal only their order of magnitude.
    PowerOfTwo {
        /// The smallest padded length.
        min: usize,
    },
    /// Always add exactly this many zero bytes.
    Fixed(usize),
}

impl PaddingPolicy {
    /// The number of zero bytes to append to a plaintext of `len` bytes, or
    /// `None` if the padded length would overflow.
    pub fn padding_for(&self, len: usize) -> Option<usize> {
        match *self {
            Self::None => Some(0),
            Self::MultipleOf(n) => {
                let rem = len % n.get();
                let pad = if rem == 0 { 0 } else { n.get() - rem };
                len.checked_add(pad).map(|_| pad)
            }
            Self::PowerOfTwo { min } => {
                let target = len.max(min).checked_next_power_of_two()?;
                Some(target - len)
            }
            Self::Fixed(n) => len.checked_add(n).map(|_| n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_lengths() {
        let m = |n| PaddingPolicy::MultipleOf(NonZeroUsize::new(n).unwrap());
        assert_eq!(PaddingPolicy::None.padding_for(17), Some(0));
        assert_eq!(m(32).padding_for(0), Some(0));
        assert_eq!(m(32).padding_for(1), Some(31));
        assert_eq!(m(32).padding_for(32), Some(0));
        assert_eq!(m(32).padding_for(33), Some(31));
        assert_eq!(m(1).padding_for(33), Some(0));
        assert_eq!(m(2).padding_for(usize::MAX), None);
        let p = PaddingPolicy::PowerOfTwo { min: 64 };
        assert_eq!(p.padding_for(10), Some(54));
        assert_eq!(p.padding_for(64), Some(0));
        assert_eq!(p.padding_for(65), Some(63));
        assert_eq!(p.padding_for(usize::MAX), None);
        assert_eq!(PaddingPolicy::Fixed(5).padding_for(3), Some(5));
        assert_eq!(PaddingPolicy::Fixed(5).padding_for(usize::MAX), None);
    }
}
