//! The values at a few JSON pointers of a payload, read in one pass without building the
//! document. A device's message is mostly fields no point reads (Tasmota's SENSOR carries a
//! dozen); building all of it as a `serde_json::Value` (a map, a string per key) and then
//! walking the pointers cost more than the rest of ingest.
//!
//! The answer is `serde_json::from_str::<Value>` then `Value::pointer` for each pointer
//! (RFC 6901, `~1` and `~0` escapes, the last of duplicate keys wins), with one difference:
//! parts of the payload that no pointer reaches are checked for syntax only, so a number
//! there too large for an f64 no longer refuses the whole message.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// The value at each pointer (`None` for a pointer not asked), or the payload's JSON error.
pub fn pick<const N: usize>(text: &str, pointers: [Option<&str>; N]) -> Result<[Option<Value>; N], serde_json::Error> {
    let mut found = [const { None }; N];
    let mut de = serde_json::Deserializer::from_str(text);
    Node { rest: pointers, found: &mut found }.deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// A node of the document, with what is left of each pointer that passes through it
/// (`Some("")`: the pointer ends here; `None`: it does not pass here).
struct Node<'f, 'p, const N: usize> {
    rest: [Option<&'p str>; N],
    found: &'f mut [Option<Value>; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for Node<'_, '_, N> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.rest.iter().all(Option::is_none) {
            IgnoredAny::deserialize(d)?;
        } else if self.rest.contains(&Some("")) {
            // A pointer's value: read whole, and any pointer going on below it looked up in it.
            let value = Value::deserialize(d)?;
            for (rest, found) in self.rest.iter().zip(self.found.iter_mut()) {
                if let Some(rest) = rest {
                    *found = value.pointer(rest).cloned();
                }
            }
        } else {
            d.deserialize_any(self)?;
        }
        Ok(())
    }
}

impl<'de, const N: usize> Visitor<'de> for Node<'_, '_, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    // A pointer that goes on below a number, a string, true/false or null finds nothing.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key()? {
            let rest = self.step(|token| unescaped_is(token, &key));
            map.next_value_seed(Node { rest, found: &mut *self.found })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let rest = self.step(|token| array_index(token) == Some(index));
            if seq.next_element_seed(Node { rest, found: &mut *self.found })?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }
}

impl<'p, const N: usize> Node<'_, 'p, N> {
    /// What is left of each pointer below the child whose name `is` its next token. The child
    /// replaces what an earlier one of the same name gave, as a later duplicate key does.
    fn step(&mut self, is: impl Fn(&str) -> bool) -> [Option<&'p str>; N] {
        let mut below = [None; N];
        for (i, rest) in self.rest.iter().enumerate() {
            let Some((token, after)) = rest.and_then(split) else { continue };
            if is(token) {
                below[i] = Some(after);
                self.found[i] = None;
            }
        }
        below
    }
}

/// A pointer's first token and what follows it: `/a/b` → (`a`, `/b`). `None` for a pointer
/// that does not start with `/` (which `Value::pointer` never finds either).
fn split(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.strip_prefix('/')?;
    Some(match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    })
}

/// Whether a pointer's token names `key`, with RFC 6901's escapes undone as serde_json does.
fn unescaped_is(token: &str, key: &str) -> bool {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~") == key
    } else {
        token == key
    }
}

/// An array index as serde_json reads one in a pointer: digits, no sign, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// A map key, borrowed from the payload unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        d.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the whole document and `Value::pointer` find: what `pick` must find.
    fn by_document<const N: usize>(text: &str, pointers: [Option<&str>; N]) -> Option<[Option<Value>; N]> {
        let doc: Value = serde_json::from_str(text).ok()?;
        Some(pointers.map(|p| p.and_then(|p| doc.pointer(p).cloned())))
    }

    #[test]
    fn finds_what_the_whole_document_would() {
        // Given payloads of every shape, with the pointers a config may name
        // (not the whole document, "", among them: a pointer to it reads all of it as one value)
        let pointers = [Some("/value"), Some("/m/v"), Some("/a~1b"), Some("/0"), Some("/"), Some("/t~0x"), None];
        let table = [
            r#"{"value":21.5,"ts":"2024-01-15T09:00:00Z"}"#,
            r#"{"m":{"v":"7.25","w":[1,2]},"value":null}"#,
            r#"{"a/b":3,"t~x":true,"":"empty key"}"#,
            // The last of duplicate keys wins, even when it lacks what the first one had.
            r#"{"value":1,"value":2,"m":{"v":1},"m":{"w":2}}"#,
            r#"[10,{"m":{"v":4}}]"#,
            r#"{"0":"a key, not an index"}"#,
            // A pointer that goes on below a scalar, or into an array with a bad index.
            r#"{"value":{"deeper":1},"m":5}"#,
            r#"["first"]"#,
            "42",
            "null",
            r#""text""#,
            // Escapes in keys (the key is unescaped before it is compared).
            r#"{"a\/b":"slash","\u0076alue":8}"#,
            r#"{"value":[{"x":1}],"m":{"v":{"n":[true,false]}}}"#,
            " { \"value\" : -0.0 } ",
        ];
        for text in table {
            // When each is read in one pass
            let picked = pick(text, pointers).expect(text);
            // Then every pointer finds what the whole document gives
            assert_eq!(Some(picked), by_document(text, pointers), "{text}");
        }
    }

    #[test]
    fn a_pointer_and_one_below_it_are_both_found() {
        let text = r#"{"m":{"v":3,"t":"x"},"other":[1,2,3]}"#;
        let pointers = [Some("/m"), Some("/m/v"), Some("/other/2"), Some("/other/02"), Some("/other/+1"), Some("")];
        assert_eq!(Some(pick(text, pointers).expect("valid")), by_document(text, pointers));
        assert_eq!(pick(text, pointers).expect("valid")[2], Some(Value::from(3)));
    }

    #[test]
    fn malformed_payloads_are_refused_wherever_the_fault_is() {
        let table = [
            r#"{"value": 3"#,
            r#"{"value": 3} trailing"#,
            r#"{"other": [1, 2,], "value": 3}"#,
            r#"{"other": "\x", "value": 3}"#,
            r#"{"value": 3, "other": tru}"#,
            "",
        ];
        for text in table {
            assert!(pick(text, [Some("/value")]).is_err(), "{text}");
            assert!(by_document(text, [Some("/value")]).is_none(), "{text}");
        }
    }

    #[test]
    fn a_huge_number_where_no_pointer_reads_is_only_syntax() {
        // Given a field nobody reads holding a number beyond f64 (the whole document refuses it)
        let text = r#"{"value": 3, "junk": 1e400}"#;
        assert!(by_document(text, [Some("/value")]).is_none());
        // Then the reading is still found; where a pointer reads it, it is refused
        assert_eq!(pick(text, [Some("/value")]).expect("syntax is fine"), [Some(Value::from(3))]);
        assert!(pick(text, [Some("/junk")]).is_err());
    }

    /// A random JSON value built from the names and values the pointers below look for, with
    /// duplicate keys, nesting and escapes.
    fn random_value(rng: &mut fastrand::Rng, depth: u32) -> String {
        const KEYS: [&str; 7] = ["value", "m", "v", "a/b", "t~x", "0", "\\u0076alue"];
        const LEAVES: [&str; 9] =
            ["1", "-0.5", "2e3", "true", "null", "\"7.25\"", "\"2024-01-15T09:00:00Z\"", "[]", "{}"];
        match rng.u32(0..if depth == 0 { 1 } else { 4 }) {
            0 => LEAVES[rng.usize(..LEAVES.len())].to_string(),
            1 => {
                let items: Vec<String> = (0..rng.usize(0..4)).map(|_| random_value(rng, depth - 1)).collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let fields: Vec<String> = (0..rng.usize(0..5))
                    .map(|_| format!("\"{}\" : {}", KEYS[rng.usize(..KEYS.len())], random_value(rng, depth - 1)))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }

    #[test]
    fn random_documents_and_their_corruptions_give_what_the_whole_document_gives() {
        // Given thousands of random documents, each also cut short and with a byte replaced
        let mut rng = fastrand::Rng::with_seed(20_261_206);
        let pointers = [Some("/value"), Some("/m/v"), Some("/a~1b"), Some("/0/m"), Some("/t~0x"), Some("/m/0/v")];
        let mut found = 0;
        for _ in 0..5_000 {
            let text = random_value(&mut rng, 4);
            let cut = text[..rng.usize(..=text.len())].to_string();
            let mut swapped = text.clone().into_bytes();
            if !swapped.is_empty() {
                let at = rng.usize(..swapped.len());
                let junk = b"{}[],:\" 0a-";
                swapped[at] = junk[rng.usize(..junk.len())];
            }
            let swapped = String::from_utf8(swapped).expect("ASCII");
            for text in [text, cut, swapped] {
                // When each is read in one pass
                let picked = pick(&text, pointers);
                // Then a document the whole parse takes gives the same values, and one it
                // refuses is refused, or found the same wherever it was readable
                match by_document(&text, pointers) {
                    Some(whole) => {
                        found += whole.iter().flatten().count();
                        assert_eq!(picked.ok(), Some(whole), "{text}");
                    }
                    None => assert!(picked.is_err(), "{text}"),
                }
            }
        }
        assert!(found > 1_000, "the documents hold what the pointers look for: {found}");
    }

    #[test]
    fn a_payload_nested_past_serde_json_s_limit_is_refused_not_a_stack_overflow() {
        // Given 200,000 levels of nesting down the path a pointer walks, and down one it skips
        for open in ["[", "{\"value\":", "{\"x\":"] {
            let text = open.repeat(200_000);
            for pointer in [Some("/value"), Some("/0/0/0"), Some("")] {
                // Then the message is refused (serde_json's depth limit of 128), and ingest lives
                assert!(pick(&text, [pointer]).is_err(), "{open} with {pointer:?}");
            }
        }
    }
}
