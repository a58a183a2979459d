//! The fuzz targets on stable, in every `cargo test`: each body over every file of its kept
//! corpus (what libFuzzer found worth keeping, crashes fixed since included), then over inputs
//! mutated from it with a fixed seed, so a regression in a parser fails CI without nightly.

use super::{Target, TARGETS};
use std::path::{Path, PathBuf};

/// Mutated inputs per target: about a second for all of them in a debug build.
const MUTATED: usize = 5_000;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

/// One of libFuzzer's simpler moves on a corpus input: flip, insert, delete, splice or cut.
fn mutate(rng: &mut fastrand::Rng, corpus: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    let mut data = corpus[rng.usize(..corpus.len())].1.clone();
    for _ in 0..rng.usize(1..=4) {
        let at = rng.usize(..=data.len());
        match rng.u8(..5) {
            0 if at < data.len() => data[at] ^= 1 << rng.u8(..8),
            1 => data.insert(at, rng.u8(..)),
            2 if at < data.len() => {
                data.remove(at);
            }
            3 => {
                let other = &corpus[rng.usize(..corpus.len())].1;
                let from = rng.usize(..=other.len());
                let to = rng.usize(from..=other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            _ => data.truncate(at),
        }
    }
    data
}

/// Runs one input, naming it and its bytes when an invariant breaks.
fn holds(name: &str, body: Target, data: &[u8], what: &str) {
    if std::panic::catch_unwind(|| body(data)).is_err() {
        panic!("{name}: {what} breaks the target: {:?}", String::from_utf8_lossy(data));
    }
}

#[test]
fn every_target_holds_on_its_corpus_and_on_inputs_mutated_from_it() {
    // Given each target's kept corpus
    for (name, body) in TARGETS {
        let files = corpus(name);
        assert!(files.len() >= 5, "{name}: the corpus in fuzz/corpus/{name} is missing");
        // When each file and inputs mutated from them run through the target
        // Then no invariant breaks (a break panics, naming the input)
        for (path, bytes) in &files {
            holds(name, body, bytes, &path.display().to_string());
        }
        let mut rng = fastrand::Rng::with_seed(0x50b7e);
        for i in 0..MUTATED {
            holds(name, body, &mutate(&mut rng, &files), &format!("mutated input {i}"));
        }
    }
}
