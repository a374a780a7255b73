#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reqflo_fuzz::imports::openapi(data));
