//! Redaction on a stream: a value split across two writes is still caught.

use std::io::{self, Write};

use super::base64run::is_digit;
use super::redactor::Redactor;

/// Redacts everything written through it before it reaches `inner`. Holds back
/// the last bytes of each write (fewer than the longest span a match can
/// cover) until the next write or `finish` shows whether they start a secret,
/// and keeps as many bytes already written as context, so that a value split
/// across writes, even inside an escape or a base64 line, reads the same.
pub struct RedactingWriter<'r, W: Write> {
    inner: W,
    redactor: &'r Redactor,
    /// Context (`..written`), then bytes not yet written out.
    buffer: Vec<u8>,
    written: usize,
    scratch: Vec<u8>,
    /// Digits of a base64 run that reaches the buffer's front which were
    /// dropped before it (a match inside the run is widened to whole groups
    /// counted from the run's start).
    run_before: usize,
    /// Drain once the buffer is this long: each drain reads the whole
    /// buffer, so while bytes are held back (a base64 run growing towards
    /// [`HELD_RUN`](super::redactor::HELD_RUN)) the next one waits until
    /// what is pending has doubled, and reading stays linear in the input.
    next_drain: usize,
}

impl<'r, W: Write> RedactingWriter<'r, W> {
    /// Wrap `inner`, redacting with `redactor`.
    pub fn with(inner: W, redactor: &'r Redactor) -> Self {
        RedactingWriter {
            inner,
            redactor,
            buffer: Vec::new(),
            written: 0,
            scratch: Vec::new(),
            run_before: 0,
            next_drain: 0,
        }
    }

    fn drain(&mut self, at_end: bool) -> io::Result<()> {
        self.scratch.clear();
        let (written, context) = self.redactor.redact_from(
            &self.buffer,
            self.written,
            at_end,
            self.run_before,
            &mut self.scratch,
        );
        self.written = written;
        if self.written > context {
            let dropped = self.written - context;
            self.run_before = match self.buffer[..dropped].iter().rposition(|&b| !is_digit(b)) {
                Some(i) => dropped - i - 1,
                None => self.run_before + dropped,
            };
            self.buffer.drain(..dropped);
            self.written = context;
        }
        self.inner.write_all(&self.scratch)
    }

    /// Write out what is held back and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.drain(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for RedactingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= self.next_drain {
            self.drain(false)?;
            let pending = self.buffer.len() - self.written;
            self.next_drain = self.buffer.len() + pending;
        }
        Ok(buf.len())
    }

    /// Flushing cannot release held-back bytes (they may start a secret); only
    /// [`RedactingWriter::finish`] does.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    fn redactor(values: &[String]) -> &'static Redactor {
        // Each case gets a fresh redactor; leaking one per case is fine in tests.
        let r: &'static Redactor = Box::leak(Box::default());
        for (i, v) in values.iter().enumerate() {
            r.add(&format!("S{i}"), v.as_bytes());
        }
        r
    }

    fn through(r: &'static Redactor, text: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut w = RedactingWriter::with(Vec::new(), r);
        let mut at = 0;
        for cut in cuts {
            let end = (*cut).clamp(at, text.len());
            w.write_all(&text[at..end]).expect("vec write");
            at = end;
        }
        w.write_all(&text[at..]).expect("vec write");
        w.finish().expect("finish")
    }

    #[test]
    fn a_value_split_between_writes_is_caught() {
        static R: OnceLock<&'static Redactor> = OnceLock::new();
        let r = *R.get_or_init(|| redactor(&["split-secret-value".into()]));
        let out = through(r, b"before split-secret-value after", &[10, 14, 20]);
        assert_eq!(String::from_utf8_lossy(&out), "before [redacted:S0] after");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random secrets (any Unicode, regex metacharacters included) embedded
        /// in random text, written in random chunks, never come out.
        #[test]
        fn no_secret_survives_any_chunking(
            secrets in proptest::collection::vec("[\\PC]{4,24}|[.*+?()\\[\\]{}|^$\\\\]{4,12}", 1..4),
            filler in proptest::collection::vec("[a-z \\n]{0,40}", 1..6),
            cuts in proptest::collection::vec(0usize..400, 0..12),
        ) {
            let r = redactor(&secrets);
            let mut text = String::new();
            for (i, f) in filler.iter().enumerate() {
                text.push_str(f);
                text.push_str(&secrets[i % secrets.len()]);
            }
            let mut cuts = cuts;
            cuts.sort_unstable();
            let out = String::from_utf8_lossy(&through(r, text.as_bytes(), &cuts)).into_owned();
            for secret in &secrets {
                prop_assert!(!out.contains(secret.as_str()), "{secret:?} survived in {out:?}");
            }
            // Chunking never changes the result.
            prop_assert_eq!(out.as_bytes(), &r.redact_bytes(text.as_bytes())[..]);
        }
    }
}
