//! One redactor for every byte that leaves the process.
//!
//! It knows every secret value of the run (resolved, captured as secret, or
//! derived by a hook) and finds it however the text spells it: as it is; in
//! decoded readings of the text, so that any mix of JSON escapes, HTML
//! character references and percent-encoding is the value itself there
//! ([`views`]); as base64 or base64url at any byte offset and hex, listed as
//! patterns ([`forms`]); wrapped across lines or escaped before it was
//! encoded, by reading base64 runs decoded ([`base64run`]). Each match is
//! redacted over the span of the text that spells it. Values are matched by
//! generations of aho-corasick automata ([`patterns`]), so learning one costs
//! about that value. [`RedactingWriter`] does the same on a stream, safe
//! across write boundaries.

mod base64run;
mod forms;
mod granted;
pub mod live;
#[cfg(test)]
mod mixes;
mod patterns;
mod redactor;
mod sample;
mod scan;
mod stream;
#[cfg(test)]
mod tests;
mod views;

pub use forms::encoded_forms;
pub use granted::secret_parts;
pub use redactor::{MAX_DERIVED_PER_RUN, Redactor, TooManyDerived, sanitize_plugin_text};
pub use stream::RedactingWriter;
