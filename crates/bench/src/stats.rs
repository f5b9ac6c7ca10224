//! Medians, ranges, ratios and the goals figures are held against.

/// Samples of one metric for one implementation.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    /// The median (mean of the two middle values for an even count).
    pub fn median(&self) -> Option<f64> {
        let mut v = self.0.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    /// Smallest sample.
    pub fn min(&self) -> Option<f64> {
        self.0.iter().copied().reduce(f64::min)
    }

    /// Largest sample.
    pub fn max(&self) -> Option<f64> {
        self.0.iter().copied().reduce(f64::max)
    }

    /// `median (min–max)` with `digits` decimals, or `n/a`.
    pub fn summary(&self, digits: usize) -> String {
        match (self.median(), self.min(), self.max()) {
            (Some(m), Some(lo), Some(hi)) if self.0.len() > 1 => {
                format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
            }
            (Some(m), ..) => format!("{m:.digits$}"),
            _ => "n/a".into(),
        }
    }
}

/// What a carpd figure is held against.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// carpd's median at most this
    AtMost(f64),
    /// carpd's median no worse (no higher) than the peer's
    NoWorseThanPeer,
    /// at most this and no worse than the peer
    AtMostAndNoWorse(f64),
    /// carpd's median at most this fraction of the peer's
    RatioAtMost(f64),
    /// at most this, and at most this fraction of the peer's
    AtMostAndRatio(f64, f64),
    /// none: reported for information
    None,
}

impl Goal {
    /// The goal as text.
    pub fn describe(self, unit: &str) -> String {
        match self {
            Goal::AtMost(x) => format!("≤ {x} {unit}"),
            Goal::NoWorseThanPeer => "≤ peer".into(),
            Goal::AtMostAndNoWorse(x) => format!("≤ {x} {unit} and ≤ peer"),
            Goal::RatioAtMost(x) => format!("≤ {x} × peer"),
            Goal::AtMostAndRatio(x, r) => format!("≤ {x} {unit} and ≤ {r} × peer"),
            Goal::None => "—".into(),
        }
    }

    /// Whether carpd meets it (`None` when there is no goal or no data).
    pub fn met(self, carpd: &Samples, peer: &Samples) -> Option<bool> {
        let c = carpd.median()?;
        match self {
            Goal::AtMost(x) => Some(c <= x),
            Goal::NoWorseThanPeer => Some(c <= peer.median()?),
            Goal::AtMostAndNoWorse(x) => Some(c <= x && c <= peer.median()?),
            Goal::RatioAtMost(x) => Some(c <= x * peer.median()?),
            Goal::AtMostAndRatio(x, r) => Some(c <= x && c <= r * peer.median()?),
            Goal::None => None,
        }
    }
}

/// carpd's median over the peer's, as text.
pub fn ratio(carpd: &Samples, peer: &Samples) -> String {
    match (carpd.median(), peer.median()) {
        (Some(c), Some(p)) if p.abs() > f64::EPSILON => format!("{:.2}", c / p),
        _ => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_goals() {
        let c = Samples(vec![3.0, 1.0, 2.0]);
        let p = Samples(vec![10.0, 20.0]);
        assert_eq!(c.median(), Some(2.0));
        assert_eq!(p.median(), Some(15.0));
        assert_eq!(c.summary(1), "2.0 (1.0–3.0)");
        assert_eq!(ratio(&c, &p), "0.13");
        assert_eq!(Goal::AtMost(2.0).met(&c, &p), Some(true));
        assert_eq!(Goal::AtMostAndRatio(2.0, 0.2).met(&c, &p), Some(true));
        assert_eq!(Goal::AtMostAndRatio(2.0, 0.1).met(&c, &p), Some(false));
        assert_eq!(Goal::AtMostAndRatio(1.5, 0.5).met(&c, &p), Some(false));
        assert_eq!(Goal::AtMost(1.5).met(&c, &p), Some(false));
        assert_eq!(Goal::NoWorseThanPeer.met(&p, &c), Some(false));
        assert_eq!(Goal::RatioAtMost(0.3).met(&c, &p), Some(true));
        assert_eq!(Goal::RatioAtMost(0.1).met(&c, &p), Some(false));
        assert_eq!(Goal::None.met(&c, &p), None);
    }
}
