#![no_main]

libfuzzer_sys::fuzz_target!(|case: reqflo_fuzz::render::Case| {
    reqflo_fuzz::render::template_render(case)
});
