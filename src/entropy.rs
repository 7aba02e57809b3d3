//! The OS random source, read in one place (as `clock` is the wall clock's).
//! Pure modules never come here: they take a `pipeline::random::Entropy`, and
//! their callers pass [`Os`]; code that does I/O anyway may call [`fill`].

use crate::pipeline::random::Entropy;

/// The operating system's random source (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Os;

impl Entropy for Os {
    fn fill(&mut self, buf: &mut [u8]) {
        fill(buf);
    }
}

/// Fills `buf` from the OS random source. A failing source is a broken
/// machine, not an error to handle: nothing here may go on without keys.
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS random source failed");
}
