//! The font every chart is drawn with, bundled in the binary.
//!
//! plotters finds no system fonts on a bare CI machine (its default backend fails with
//! `NoSuchFont`), so charts carry their own: DejaVu Sans from Debian's `fonts-dejavu-core`
//! (harness/assets/DejaVuSans.ttf, its licence next to it), registered with plotters' `ab_glyph`
//! backend under the family name every chart asks for.

use plotters::style::FontStyle;
use std::sync::OnceLock;

/// DejaVu Sans 2.37, copied from /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The family name charts ask plotters for.
pub const FAMILY: &str = "sans-serif";

/// Registers the bundled font once per process; later calls return the first outcome.
pub fn ensure_registered() -> Result<(), super::ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        // Bold and italic fall back to the regular face (plotters' ab_glyph lookup does that).
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(super::ReportError::Font)
    }
}
