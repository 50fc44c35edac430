//! lockscope's app icon, drawn procedurally: a padlock on a blue rounded tile, with a magnifying
//! glass over the padlock's lower-right corner ("look into locks").
//!
//! Pure std so that `examples/make_icon.rs` can include this file with `#[path]` and write the PNGs
//! in `assets/` without the `gui` feature. Every shape is a signed distance field in unit
//! coordinates (the icon spans 0..1 on both axes, y down); a pixel's coverage of a shape comes
//! from the distance at its centre, which anti-aliases every edge at any size.

/// The icon as `size`×`size` RGBA8 pixels (row-major, top row first, straight alpha).
pub fn icon_rgba(size: u32) -> Vec<u8> {
    let n = size as usize;
    let mut out = Vec::with_capacity(n * n * 4);
    if size == 0 {
        return out;
    }
    let px = 1.0 / f64::from(size);
    for y in 0..size {
        for x in 0..size {
            let p = V((f64::from(x) + 0.5) * px, (f64::from(y) + 0.5) * px);
            let c = shade(p, px);
            out.extend_from_slice(&c.to_straight_rgba8());
        }
    }
    out
}

// Geometry, in unit coordinates.
const TILE_HALF: f64 = 0.44;
const TILE_RADIUS: f64 = 0.2;
const BODY_CENTER: V = V(0.43, 0.60);
const BODY_HALF: V = V(0.235, 0.18);
const BODY_RADIUS: f64 = 0.06;
const SHACKLE_CENTER: V = V(0.43, 0.37);
const SHACKLE_RADIUS: f64 = 0.135; // to the middle of the bar
const SHACKLE_WIDTH: f64 = 0.07;
const KEYHOLE_CENTER: V = V(0.43, 0.54);
const KEYHOLE_RADIUS: f64 = 0.046;
const LENS_CENTER: V = V(0.64, 0.665);
const LENS_RADIUS: f64 = 0.118; // to the middle of the rim
const LENS_RIM: f64 = 0.05;
const HANDLE_FROM: f64 = 0.155; // along the lens-to-handle diagonal, from the lens centre
const HANDLE_TO: f64 = 0.245;
const HANDLE_WIDTH: f64 = 0.075;
const GAP: f64 = 0.03; // tile-coloured outline separating the magnifier from the padlock

// Palette (sRGB).
const TILE_TOP: [u8; 3] = [52, 140, 214];
const TILE_BOTTOM: [u8; 3] = [21, 58, 128];
const SHACKLE: [u8; 3] = [198, 211, 228];
const SHACKLE_SHADE: [u8; 3] = [150, 168, 192];
const BODY_TOP: [u8; 3] = [255, 255, 255];
const BODY_BOTTOM: [u8; 3] = [222, 231, 242];
const KEYHOLE: [u8; 3] = [24, 56, 112];
const RIM: [u8; 3] = [255, 183, 77];
const RIM_SHADE: [u8; 3] = [236, 140, 40];
const HANDLE: [u8; 3] = [225, 120, 30];

/// The colour of one pixel centred at `p`, `px` being one pixel's width in unit coordinates.
fn shade(p: V, px: f64) -> Rgba {
    let cov = |d: f64| (0.5 - d / px).clamp(0.0, 1.0);
    let mut c = Rgba::CLEAR;

    // Soft drop shadow under the tile.
    let shadow_d = sd_round_rect(
        p - V(0.0, 0.012),
        V(0.5, 0.5),
        V(TILE_HALF, TILE_HALF),
        TILE_RADIUS,
    );
    let shadow = 0.3 * (1.0 - smoothstep(-0.01, 0.035, shadow_d));
    c.over(Rgba::opaque([0, 0, 0]), shadow);

    // Tile: vertical gradient with a faint light from the top left.
    let tile_d = sd_round_rect(p, V(0.5, 0.5), V(TILE_HALF, TILE_HALF), TILE_RADIUS);
    let tile_t = ((p.1 - 0.06) / 0.88).clamp(0.0, 1.0);
    let glow = 0.10 * (1.0 - ((p - V(0.25, 0.15)).len() / 0.6).min(1.0));
    let tile_col = mix(TILE_TOP, TILE_BOTTOM, tile_t).lighten(glow);
    c.over(tile_col, cov(tile_d));

    // Shackle: the upper half of a ring plus two legs running down into the body.
    let shackle_d = shackle_path_distance(p) - SHACKLE_WIDTH / 2.0;
    // Darker on the inner half of the bar, for a little roundness.
    let to_mid_line = if p.1 <= SHACKLE_CENTER.1 {
        (p - SHACKLE_CENTER).len() - SHACKLE_RADIUS
    } else {
        (p.0 - SHACKLE_CENTER.0).abs() - SHACKLE_RADIUS
    };
    let shackle_col = mix(SHACKLE, SHACKLE_SHADE, 0.45 * cov(to_mid_line));
    c.over(shackle_col, cov(shackle_d));

    // Body.
    let body_d = sd_round_rect(p, BODY_CENTER, BODY_HALF, BODY_RADIUS);
    let body_t = ((p.1 - (BODY_CENTER.1 - BODY_HALF.1)) / (2.0 * BODY_HALF.1)).clamp(0.0, 1.0);
    c.over(mix(BODY_TOP, BODY_BOTTOM, body_t), cov(body_d));

    // Keyhole: a round head and a tapering slot.
    let head = sd_circle(p, KEYHOLE_CENTER, KEYHOLE_RADIUS);
    let slot = sd_tapered_slot(p, KEYHOLE_CENTER, 0.095, 0.018, 0.028);
    c.over(Rgba::opaque(KEYHOLE), cov(head.min(slot)));

    // Magnifier. First a tile-coloured outline so it reads as lying on top of the padlock, then
    // the glass (tile colour, slightly lighter: the padlock's corner is "under the lens"), the
    // handle and the rim, and a glint.
    let dir = V(1.0, 1.0).norm();
    let a = LENS_CENTER + dir * HANDLE_FROM;
    let b = LENS_CENTER + dir * HANDLE_TO;
    let lens_outer = sd_circle(p, LENS_CENTER, LENS_RADIUS + LENS_RIM / 2.0);
    let handle_d = sd_capsule(p, a, b, HANDLE_WIDTH / 2.0);
    let neck_d = sd_capsule(
        p,
        LENS_CENTER + dir * (LENS_RADIUS + LENS_RIM * 0.3),
        a,
        HANDLE_WIDTH * 0.36,
    );
    let whole = lens_outer.min(handle_d).min(neck_d);
    c.over(tile_col, cov(whole - GAP));

    let glass_d = sd_circle(p, LENS_CENTER, LENS_RADIUS);
    c.over(tile_col.lighten(0.12), cov(glass_d));
    // A curved glint in the glass's upper left.
    let glint_d = sd_arc(
        p,
        LENS_CENTER,
        LENS_RADIUS * 0.6,
        200f64.to_radians(),
        260f64.to_radians(),
    ) - 0.016;
    c.over(Rgba::opaque([255, 255, 255]), 0.6 * cov(glint_d));

    c.over(Rgba::opaque(HANDLE), cov(handle_d.min(neck_d)));
    let rim_d = glass_d.abs() - LENS_RIM / 2.0;
    let rim_t = ((p.1 - (LENS_CENTER.1 - LENS_RADIUS)) / (2.0 * LENS_RADIUS)).clamp(0.0, 1.0);
    c.over(mix(RIM, RIM_SHADE, rim_t), cov(rim_d));
    c
}

/// Distance to the centre line of the shackle (not yet thickened).
fn shackle_path_distance(p: V) -> f64 {
    let c = SHACKLE_CENTER;
    let r = SHACKLE_RADIUS;
    let leg_bottom = BODY_CENTER.1;
    let left = sd_segment(p, V(c.0 - r, c.1), V(c.0 - r, leg_bottom));
    let right = sd_segment(p, V(c.0 + r, c.1), V(c.0 + r, leg_bottom));
    let arc = if p.1 <= c.1 {
        ((p - c).len() - r).abs()
    } else {
        f64::INFINITY
    };
    arc.min(left).min(right)
}

/// Distance to the arc of radius `r` around `c` from angle `a0` to `a1` (radians, y down, so
/// angles run clockwise on screen; 180°..270° is the upper-left quarter).
fn sd_arc(p: V, c: V, r: f64, a0: f64, a1: f64) -> f64 {
    let d = p - c;
    let mut a = d.1.atan2(d.0);
    if a < 0.0 {
        a += std::f64::consts::TAU;
    }
    if (a0..=a1).contains(&a) {
        (d.len() - r).abs()
    } else {
        let end = |t: f64| (p - (c + V(t.cos(), t.sin()) * r)).len();
        end(a0).min(end(a1))
    }
}

fn sd_circle(p: V, c: V, r: f64) -> f64 {
    (p - c).len() - r
}

/// Rounded rectangle centred at `c` with half extents `half` and corner radius `r`.
fn sd_round_rect(p: V, c: V, half: V, r: f64) -> f64 {
    let q = V(
        (p.0 - c.0).abs() - half.0 + r,
        (p.1 - c.1).abs() - half.1 + r,
    );
    V(q.0.max(0.0), q.1.max(0.0)).len() + q.0.max(q.1).min(0.0) - r
}

fn sd_segment(p: V, a: V, b: V) -> f64 {
    let pa = p - a;
    let ba = b - a;
    let h = (pa.dot(ba) / ba.dot(ba)).clamp(0.0, 1.0);
    (pa - ba * h).len()
}

fn sd_capsule(p: V, a: V, b: V, r: f64) -> f64 {
    sd_segment(p, a, b) - r
}

/// A vertical slot hanging from `top`, `len` long, `w_top` half wide at the top and `w_bottom`
/// at the bottom (square ends; the top end hides under the keyhole's head).
fn sd_tapered_slot(p: V, top: V, len: f64, w_top: f64, w_bottom: f64) -> f64 {
    let t = ((p.1 - top.1) / len).clamp(0.0, 1.0);
    let half_w = w_top + (w_bottom - w_top) * t;
    // Side distance, corrected for the slant so edges stay one pixel soft.
    let slope = (w_bottom - w_top) / len;
    let side = ((p.0 - top.0).abs() - half_w) / (1.0 + slope * slope).sqrt();
    let ends = (top.1 - p.1).max(p.1 - (top.1 + len));
    side.max(ends)
}

fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn mix(a: [u8; 3], b: [u8; 3], t: f64) -> Rgba {
    let f = |i: usize| (f64::from(a[i]) + (f64::from(b[i]) - f64::from(a[i])) * t) / 255.0;
    Rgba {
        r: f(0),
        g: f(1),
        b: f(2),
        a: 1.0,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct V(f64, f64);

impl V {
    fn dot(self, o: V) -> f64 {
        self.0 * o.0 + self.1 * o.1
    }
    fn len(self) -> f64 {
        self.dot(self).sqrt()
    }
    fn norm(self) -> V {
        self * (1.0 / self.len())
    }
}

impl std::ops::Add for V {
    type Output = V;
    fn add(self, o: V) -> V {
        V(self.0 + o.0, self.1 + o.1)
    }
}

impl std::ops::Sub for V {
    type Output = V;
    fn sub(self, o: V) -> V {
        V(self.0 - o.0, self.1 - o.1)
    }
}

impl std::ops::Mul<f64> for V {
    type Output = V;
    fn mul(self, k: f64) -> V {
        V(self.0 * k, self.1 * k)
    }
}

/// Premultiplied colour, channels in 0..=1.
#[derive(Clone, Copy, Debug)]
struct Rgba {
    r: f64,
    g: f64,
    b: f64,
    a: f64,
}

impl Rgba {
    const CLEAR: Rgba = Rgba {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        a: 0.0,
    };

    fn opaque(c: [u8; 3]) -> Rgba {
        mix(c, c, 0.0)
    }

    /// Towards white by `k` (an opaque colour stays opaque).
    fn lighten(self, k: f64) -> Rgba {
        Rgba {
            r: self.r + (self.a - self.r) * k,
            g: self.g + (self.a - self.g) * k,
            b: self.b + (self.a - self.b) * k,
            a: self.a,
        }
    }

    /// Composites `src` scaled by `coverage` over `self` (Porter-Duff "over").
    fn over(&mut self, src: Rgba, coverage: f64) {
        let k = coverage.clamp(0.0, 1.0);
        if k == 0.0 {
            return;
        }
        let sa = src.a * k;
        self.r = src.r * k + self.r * (1.0 - sa);
        self.g = src.g * k + self.g * (1.0 - sa);
        self.b = src.b * k + self.b * (1.0 - sa);
        self.a = sa + self.a * (1.0 - sa);
    }

    fn to_straight_rgba8(self) -> [u8; 4] {
        if self.a <= 0.0 {
            return [0, 0, 0, 0];
        }
        let q = |v: f64| (v * 255.0).round().clamp(0.0, 255.0) as u8;
        [
            q(self.r / self.a),
            q(self.g / self.a),
            q(self.b / self.a),
            q(self.a),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::icon_rgba;

    fn alpha(img: &[u8], size: u32, x: u32, y: u32) -> u8 {
        img[((y * size + x) * 4 + 3) as usize]
    }

    #[test]
    fn buffer_has_four_bytes_per_pixel() {
        for size in [0, 1, 16, 32, 48, 256] {
            assert_eq!(
                icon_rgba(size).len(),
                (size * size * 4) as usize,
                "size {size}"
            );
        }
    }

    #[test]
    fn corners_are_transparent_and_the_middle_is_opaque() {
        for size in [16, 32, 64, 256] {
            let img = icon_rgba(size);
            let m = size - 1;
            for (x, y) in [(0, 0), (m, 0), (0, m), (m, m)] {
                assert_eq!(alpha(&img, size, x, y), 0, "size {size}, corner ({x}, {y})");
            }
            assert_eq!(
                alpha(&img, size, size / 2, size / 2),
                255,
                "size {size}, centre"
            );
        }
    }

    /// The PNGs the packages install (assets/, written by `examples/make_icon.rs`) are this
    /// drawing, pixel for pixel: a change to the drawing that was not re-exported, or a broken
    /// export, fails here.
    #[test]
    fn the_shipped_pngs_are_this_drawing() {
        let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        for (file, size) in [("lockscope.png", 256), ("lockscope-64.png", 64)] {
            let path = assets.join(file);
            let opened = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            let mut reader = png::Decoder::new(std::io::BufReader::new(opened))
                .read_info()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let mut pixels = vec![0; reader.output_buffer_size().expect("a small image")];
            let info = reader.next_frame(&mut pixels).expect("one frame");
            assert_eq!(
                (info.width, info.height, info.color_type, info.bit_depth),
                (size, size, png::ColorType::Rgba, png::BitDepth::Eight),
                "{file}"
            );
            let drawn = icon_rgba(size);
            let differ = drawn
                .chunks(4)
                .zip(pixels[..info.buffer_size()].chunks(4))
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                differ, 0,
                "{file}: {differ} pixels differ from icon_rgba({size}); re-export: cargo run --example make_icon"
            );
        }
    }
}
