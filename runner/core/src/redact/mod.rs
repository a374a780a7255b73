//! One redactor for every byte that leaves the process.
//!
//! It knows every secret value of the run (resolved or captured as secret) and
//! the forms the value takes on the wire: percent-encoded, form-encoded,
//! JSON-escaped, base64 and base64url (also embedded at any offset in a larger
//! base64 blob, which covers `user:value` Basic credentials), and hex. Matching
//! is one aho-corasick pass, leftmost-longest, so overlapping values and
//! encodings resolve to the longest. [`RedactingWriter`] does the same on a
//! stream, safe across write boundaries.

mod forms;
pub mod live;
mod redactor;
mod sample;
mod stream;

pub use forms::encoded_forms;
pub use redactor::{Redactor, sanitize_plugin_text};
pub use stream::RedactingWriter;
