//! Config text → `Config` (strict TOML, unknown keys with lines, bounded values) or
//! diagnostics: never a panic. Diagnostics are rendered too (they compute line numbers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ayadns::testing::Config::parse(text, Path::new("fuzz.toml")) {
        Ok(loaded) => {
            let _ = loaded.problems.to_string();
        }
        Err(d) => {
            let _ = d.to_string();
        }
    }
});
