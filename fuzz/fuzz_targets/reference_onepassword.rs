#![no_main]

libfuzzer_sys::fuzz_target!(|input: &str| reqflo_fuzz::references::onepassword(input));
