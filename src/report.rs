//! How an error reads at the edges: one line, each cause said once.
//!
//! Library errors name their cause in their own message (so that `to_string()` alone, as the
//! app shows it, says everything) and also expose it as `source()` (so that callers can
//! inspect it). Printing such a chain layer by layer, as `anyhow`'s `{:#}` does, repeats
//! every cause once per layer above it. [`error_line`] prints each layer and leaves out a
//! cause whose text a layer above already says.

use std::error::Error;

/// The error and its causes as one line, `outer: inner: …`, leaving out each cause whose
/// text is already part of the line so far.
pub fn error_line(e: &(dyn Error + 'static)) -> String {
    let mut said: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(layer) = next {
        let text = layer.to_string();
        let text = text.trim();
        if !text.is_empty() && !said.iter().any(|s| s.contains(text)) {
            said.push(text.to_string());
        }
        next = layer.source();
    }
    said.join(": ")
}
