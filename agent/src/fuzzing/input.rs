//! Fuzz input cut into the choices a target makes (a header of bytes) and the payloads it sends.

/// What a target has not read yet. Reading past the end yields zeros: every input is a case.
#[derive(Debug)]
pub(super) struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    pub(super) fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    /// One of `choices`, by the next byte.
    pub(super) fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()]
    }

    /// The rest as payloads separated by NUL, a byte no JSON document or number contains, so
    /// one input can be a sequence of messages; at most `max` of them.
    pub(super) fn payloads(self, max: usize) -> impl Iterator<Item = &'a [u8]> {
        self.0.split(|&b| b == 0).take(max)
    }

    pub(super) fn rest(self) -> &'a [u8] {
        self.0
    }
}
