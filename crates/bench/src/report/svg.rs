//! The client's view of one failover as an SVG: each reply as a dot whose height is the time
//! since the previous reply, over a band showing which host holds the VIP.

use std::fmt::Write as _;

/// One failover to draw.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// title above the panel
    pub title: String,
    /// when the master's port was cut (epoch seconds)
    pub cut: f64,
    /// reply arrival times (epoch seconds)
    pub replies: Vec<f64>,
    /// (host number, from, to) intervals of VIP ownership (epoch seconds)
    pub holders: Vec<(usize, f64, f64)>,
}

const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 190.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const BEFORE: f64 = 1.0;
const AFTER: f64 = 5.0;

fn colour(host: usize) -> &'static str {
    if host == 1 {
        "#4c78a8"
    } else {
        "#f58518"
    }
}

/// Renders the panels one under the other.
pub fn render(panels: &[Panel]) -> String {
    let height = PANEL_HEIGHT * panels.len() as f64 + 30.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    s.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, panel) in panels.iter().enumerate() {
        draw(&mut s, panel, 10.0 + PANEL_HEIGHT * i as f64);
    }
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{}" fill="#444">dots: time since the previous ping reply (ms, log scale); band: who holds the VIP (blue host 1, orange host 2); red line: the master's port cut</text>"##,
        height - 8.0
    );
    s.push_str("</svg>\n");
    s
}

fn draw(s: &mut String, p: &Panel, top: f64) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_top = top + 22.0;
    let plot_h = PANEL_HEIGHT - 70.0;
    let band_y = plot_top + plot_h + 8.0;
    let x = |t: f64| LEFT + (t - p.cut + BEFORE) / (BEFORE + AFTER) * plot_w;
    // y: log scale from 1 ms to 10 s.
    let y = |ms: f64| {
        let v = ms.clamp(1.0, 10_000.0).log10() / 4.0;
        plot_top + plot_h * (1.0 - v)
    };
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="{}" font-weight="bold">{}</text>"#,
        top + 14.0,
        p.title
    );
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{plot_top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>"##
    );
    for ms in [1.0, 10.0, 100.0, 1000.0, 10_000.0] {
        let yy = y(ms);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{yy}" y2="{yy}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end" fill="#666">{ms} ms</text>"##,
            LEFT + plot_w,
            LEFT - 4.0,
            yy + 4.0
        );
    }
    for sec in 0..=((BEFORE + AFTER) as i32) {
        let t = p.cut - BEFORE + f64::from(sec);
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#666">{:+.0} s</text>"##,
            x(t),
            band_y + 30.0,
            t - p.cut
        );
    }
    for &(host, from, to) in &p.holders {
        let (a, b) = (x(from.max(p.cut - BEFORE)), x(to.min(p.cut + AFTER)));
        if b > a {
            let _ = write!(
                s,
                r#"<rect x="{a}" y="{band_y}" width="{}" height="10" fill="{}" opacity="0.8"/>"#,
                b - a,
                colour(host)
            );
        }
    }
    let mut previous: Option<f64> = None;
    for &t in &p.replies {
        if let Some(prev) = previous {
            if t >= p.cut - BEFORE && t <= p.cut + AFTER {
                let gap = (t - prev) * 1000.0;
                let _ = write!(
                    s,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="#333"/>"##,
                    x(t),
                    y(gap)
                );
            }
        }
        previous = Some(t);
    }
    let _ = write!(
        s,
        r#"<line x1="{0}" x2="{0}" y1="{plot_top}" y2="{1}" stroke="red"/>"#,
        x(p.cut),
        band_y + 10.0
    );
}
