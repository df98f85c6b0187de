//! Zone-file text → `Zone` or diagnostics: never a panic, whatever the text.
//! `$INCLUDE` is left out: it reads other files (trusted operator input, and a fuzzer could
//! name /dev/zero).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.to_ascii_uppercase().contains("$INCLUDE") {
        return;
    }
    let origin = hickory_proto::rr::Name::from_ascii("fuzz.test.").unwrap();
    let _ = ayadns::zone::load::load_zone_text(text, Path::new("fuzz.test.zone"), Some(&origin));
    let _ = ayadns::zone::load::load_zone_text(text, Path::new("fuzz.test.zone"), None);
});
