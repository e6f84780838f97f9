//! Format-preserving sets on arbitrary YAML: a set either fails with an error or writes a text
//! that parses, holds the new value at the path, and is a fixed point (setting it again
//! changes nothing), and the path reads back as the value.
#![no_main]

use arbitrary::Arbitrary;
use iter8_gitops::plan::yamledit::{self, Docs};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    path: String,
    value: String,
    create: bool,
}

fuzz_target!(|input: Input| {
    let Ok(path) = yamledit::parse_path(&input.path) else { return };
    let Ok(out) = yamledit::set(&input.text, &path, &input.value, Docs::The, input.create) else {
        return;
    };
    yamledit::parse(&out).expect("what a set writes parses");
    let again = yamledit::set(&out, &path, &input.value, Docs::The, false)
        .expect("the path exists after a set");
    assert_eq!(again, out, "a second set changes nothing");
    // The path now reads as the value (in whatever quoting the file called for).
    let read = yamledit::values_at(&out, &path).expect("parses");
    assert_eq!(read, [input.value.clone()], "{out:?}");
});
