//! A setting that cannot run: which key to point at, and the fix.
//!
//! Scenario sections and nemesis plug-ins validate themselves and return this; the scenario
//! loader turns the key into the file's line, so every refusal names the file, the line and the
//! fix.

/// A refused setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The TOML key the error is about (its line is looked up in the file).
    pub key: std::borrow::Cow<'static, str>,
    pub message: String,
}

impl Invalid {
    pub fn new(
        key: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Invalid {
        Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// `Err(Invalid)` unless `ok`.
pub fn ensure(
    ok: bool,
    key: impl Into<std::borrow::Cow<'static, str>>,
    message: impl FnOnce() -> String,
) -> Result<(), Invalid> {
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(key, message()))
    }
}
