#![no_main]

libfuzzer_sys::fuzz_target!(|case: reqflo_fuzz::redact::Case| reqflo_fuzz::redact::redact(case));
