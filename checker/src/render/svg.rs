//! The SVG rendering, written by hand: self-contained (no scripts, no external fonts or
//! links), monospace text, one lifeline per thread with its header, one row per step, the
//! observed file and mapped pages after each step in two columns on the right, the race
//! window as a shaded band (`class="race-window"`) and the raced fault in red.

use super::diagram::{ArrowStyle, Diagram, NoteStyle, Row, Shape};
use super::lifeline::LifelineKind;
use super::show;
use super::summary::Summary;
use super::window::{one_line, Phrases};
use super::Origin;
use std::fmt::Write as _;

/// Font size of body text, in pixels.
const FONT: i64 = 12;
/// Height of one line of text.
const LINE: i64 = 15;
/// Outer margin.
const MARGIN: i64 = 16;
/// The step-number column.
const GUTTER: i64 = 44;
/// Lifeline header height.
const HEADER: i64 = 30;
/// The narrowest lifeline column.
const MIN_COLUMN: i64 = 150;

/// Width of `chars` monospace characters at [`FONT`] (0.6 em each).
fn text_width(chars: usize) -> i64 {
    (chars as i64 * FONT * 6 + 9) / 10
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// XML-escaped text.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Greedy word wrap at `width` characters.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in s.split_whitespace() {
        let cur = lines.last_mut().expect("never empty");
        if !cur.is_empty() && chars(cur) + 1 + chars(word) > width {
            lines.push(word.to_string());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines
}

/// A row's label lines with their classes: the label, then what the step changed.
fn label(r: &Row) -> Vec<(String, &'static str)> {
    let changes = r.changes.iter().map(|c| (format!("=> {c}"), "change"));
    r.lines
        .iter()
        .map(|l| (l.clone(), ""))
        .chain(changes)
        .collect()
}

/// The width of the widest line of a row's label.
fn label_width(r: &Row) -> i64 {
    label(r)
        .iter()
        .map(|(l, _)| text_width(chars(l)))
        .max()
        .unwrap_or(0)
}

/// One horizontal slice of the diagram body.
enum Band<'r> {
    /// A step.
    Step(&'r Row),
    /// A line of commentary across the diagram: the window opening or closing, the race.
    Remark { text: String, class: &'static str },
}

impl Band<'_> {
    fn height(&self) -> i64 {
        match self {
            Band::Step(r) => match r.shape {
                Shape::Note { .. } => (r.lines.len() + r.changes.len()) as i64 * LINE + 14,
                Shape::Arrow { .. } => (1 + r.changes.len()) as i64 * LINE + 18,
            },
            Band::Remark { .. } => LINE + 9,
        }
    }
}

struct Svg {
    out: String,
}

impl Svg {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, class: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect class="{class}" x="{x}" y="{y}" width="{w}" height="{h}"{extra}/>"#
        );
    }

    fn line(&mut self, x1: i64, y1: i64, x2: i64, y2: i64, class: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            r#"<line class="{class}" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"{extra}/>"#
        );
    }

    fn text(&mut self, x: i64, y: i64, class: &str, s: &str) {
        let class = if class.is_empty() {
            String::new()
        } else {
            format!(r#" class="{class}""#)
        };
        let _ = writeln!(
            self.out,
            r#"<text{class} x="{x}" y="{y}">{}</text>"#,
            esc(s)
        );
    }
}

const STYLE: &str = r#"<style>
text { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px; fill: #1f2328; }
.title { font-size: 15px; font-weight: bold; }
.dim { fill: #57606a; }
.step { fill: #57606a; text-anchor: end; }
.mid { text-anchor: middle; }
.change { fill: #1a7f37; font-style: italic; }
.changed { font-weight: bold; fill: #0550ae; }
.colhead { font-weight: bold; fill: #57606a; }
.bg { fill: #ffffff; }
.stripe { fill: #f6f8fa; }
.race-window { fill: #ffe9cc; fill-opacity: 0.85; stroke: #e8a33d; stroke-width: 1.5; stroke-dasharray: 6 3; }
.raced-fault { fill: #f9b4b4; stroke: #cf222e; stroke-width: 1.5; }
.remark-window { fill: #9a6700; font-weight: bold; }
.remark-bg { fill: #ffffff; fill-opacity: 0.9; }
.remark-race { fill: #cf222e; font-weight: bold; }
.life { stroke: #8c959f; stroke-width: 1; stroke-dasharray: 4 4; }
.head-process { fill: #fff4cc; stroke: #b39b3e; }
.head-handler { fill: #e3f2e1; stroke: #5d9b57; }
.head-kernel { fill: #dde7f3; stroke: #5b7aa6; }
.head-name { font-weight: bold; text-anchor: middle; }
.note-kernel { fill: #e8eef7; stroke: #5b7aa6; }
.note-access { fill: #fffbe6; stroke: #b39b3e; }
.note-process { fill: #f0f0f0; stroke: #8c959f; }
.note-raced { fill: #ffd7d5; stroke: #cf222e; stroke-width: 2; }
.call { stroke: #1f2328; stroke-width: 1.5; }
.return { stroke: #1f2328; stroke-width: 1.5; stroke-dasharray: 6 4; }
.fault { stroke: #8250df; stroke-width: 1.5; }
.fault-done { stroke: #8250df; stroke-width: 1.5; stroke-dasharray: 6 4; }
.event { stroke: #bc4c00; stroke-width: 1.5; }
.signal { stroke: #cf222e; stroke-width: 2; }
.end-violated { fill: #ffebe9; stroke: #cf222e; stroke-width: 2; }
.end-reached { fill: #dafbe1; stroke: #1a7f37; stroke-width: 2; }
.verdict-violated { fill: #cf222e; font-weight: bold; }
.verdict-reached { fill: #1a7f37; font-weight: bold; }
</style>"#;

const DEFS: &str = r##"<defs>
<marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f2328"/></marker>
<marker id="open" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10" fill="none" stroke="#8250df" stroke-width="1.5"/></marker>
<marker id="open-event" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10" fill="none" stroke="#bc4c00" stroke-width="1.5"/></marker>
<marker id="cross" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="10" markerHeight="10" orient="auto"><path d="M1,1 L9,9 M9,1 L1,9" stroke="#cf222e" stroke-width="2"/></marker>
</defs>"##;

fn arrow_look(style: ArrowStyle) -> (&'static str, &'static str) {
    match style {
        ArrowStyle::Call => ("call", "head"),
        ArrowStyle::Return => ("return", "head"),
        ArrowStyle::Fault => ("fault", "open"),
        ArrowStyle::FaultDone => ("fault-done", "open"),
        ArrowStyle::Event => ("event", "open-event"),
        ArrowStyle::Signal => ("signal", "cross"),
    }
}

/// Where everything goes: computed first, then drawn.
struct Layout<'d> {
    d: &'d Diagram<'d>,
    sum: Summary,
    /// Lifeline column width.
    column: i64,
    /// Each step's file and mapped pages, as printed in the two right-hand columns.
    files: Vec<String>,
    mappeds: Vec<String>,
    life_x0: i64,
    file_x: i64,
    mapped_x: i64,
    width: i64,
    height: i64,
    /// Title lines and their classes.
    title: Vec<(String, &'static str)>,
    head_y: i64,
    /// The body: steps and remarks, each with its top.
    bands: Vec<Band<'d>>,
    ys: Vec<i64>,
    /// The first and last band of the race window.
    window_bands: (usize, usize),
    body_end: i64,
    end_lines: Vec<String>,
    end_y: i64,
    end_h: i64,
    legend_y: i64,
}

pub fn render(d: &Diagram, origin: &Origin) -> String {
    let l = Layout::new(d, origin);
    let mut s = Svg { out: String::new() };
    l.header(&mut s, origin);
    l.backgrounds(&mut s);
    l.lifelines(&mut s);
    l.rows(&mut s);
    l.end(&mut s);
    s.raw("</svg>");
    s.out
}

impl<'d> Layout<'d> {
    fn new(d: &'d Diagram<'d>, origin: &Origin) -> Layout<'d> {
        let t = d.trace;
        let n = d.lifelines.len() as i64;
        let sum = Summary::new(t);

        // Column width: the widest note fits its column, the widest arrow label its span.
        let mut column = MIN_COLUMN;
        for r in &d.rows {
            let widest = label_width(r);
            let need = match r.shape {
                Shape::Note { .. } => widest + 28,
                Shape::Arrow { from, to, .. } => (widest + 24) / (from.abs_diff(to).max(1) as i64),
            };
            column = column.max(need);
        }
        let files: Vec<String> = t.steps.iter().map(|s| show::file(&s.observed)).collect();
        let mappeds: Vec<String> = t.steps.iter().map(|s| show::mapped(&s.observed)).collect();
        let col_w = |head: &str, cells: &[String]| {
            text_width(
                cells
                    .iter()
                    .map(|s| chars(s))
                    .chain([chars(head)])
                    .max()
                    .unwrap_or(0),
            ) + 24
        };
        let file_w = col_w("file after", &files);
        let mapped_w = col_w("mapped after", &mappeds);
        let life_x0 = MARGIN + GUTTER;
        let file_x = life_x0 + column * n + 12;
        let mapped_x = file_x + file_w;
        let width = (mapped_x + mapped_w + MARGIN).max(640);
        let wrap_at = ((width - 2 * MARGIN) * 10 / (FONT * 6)).max(40) as usize;

        let title = title(d, origin, wrap_at);
        let head_y = MARGIN + 8 + title.len() as i64 * 18 + 8;
        let body_y = head_y + HEADER + 10;
        let (bands, window_bands) = bands(d, &sum);
        let mut ys = Vec::with_capacity(bands.len());
        let mut y = body_y;
        for b in &bands {
            ys.push(y);
            y += b.height();
        }
        let body_end = y;

        // The end note.
        let mut end_lines = sum.lines();
        if let Some(w) = &d.window {
            end_lines.push(w.summary(t.steps.len()));
        }
        let end_lines: Vec<String> = end_lines
            .iter()
            .flat_map(|l| wrap(l, wrap_at.saturating_sub(4)))
            .collect();
        let end_y = body_end + 16;
        let end_h = end_lines.len() as i64 * LINE + 14;
        let legend_y = end_y + end_h + 20;
        let height = legend_y + 2 * LINE + MARGIN;
        Layout {
            d,
            sum,
            column,
            files,
            mappeds,
            life_x0,
            file_x,
            mapped_x,
            width,
            height,
            title,
            head_y,
            bands,
            ys,
            window_bands,
            body_end,
            end_lines,
            end_y,
            end_h,
            legend_y,
        }
    }

    fn center(&self, i: usize) -> i64 {
        self.life_x0 + self.column * i as i64 + self.column / 2
    }

    /// The SVG element, its title and description, the style, the title block.
    fn header(&self, s: &mut Svg, origin: &Origin) {
        let m = &self.d.trace.meta;
        let (width, height) = (self.width, self.height);
        let _ = writeln!(
            s.out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="title">"#
        );
        let _ = writeln!(
            s.out,
            "<title id=\"title\">{}</title>",
            esc(&format!(
                "{}: {} ({})",
                m.variant,
                m.property,
                m.kind.name()
            ))
        );
        let _ = writeln!(
            s.out,
            "<desc>{}</desc>",
            esc(&format!("Generated by hugepunch {}", origin.args))
        );
        s.raw(STYLE);
        s.raw(DEFS);
        s.rect(0, 0, width, height, "bg", "");
        for (k, (line, class)) in self.title.iter().enumerate() {
            s.text(MARGIN, MARGIN + 14 + k as i64 * 18, class, line);
        }
    }

    /// Stripes, the window band, the raced fault's row.
    fn backgrounds(&self, s: &mut Svg) {
        let (bands, ys, width) = (&self.bands, &self.ys, self.width);
        for (k, (b, &y)) in bands.iter().zip(ys).enumerate() {
            if k % 2 == 1 {
                s.rect(MARGIN, y, width - 2 * MARGIN, b.height(), "stripe", "");
            }
        }
        if let Some(w) = &self.d.window {
            let (first, last) = self.window_bands;
            let top = ys[first];
            let bottom = ys[last] + bands[last].height();
            let _ = writeln!(
                s.out,
                r#"<rect id="race-window" class="race-window" x="{}" y="{top}" width="{}" height="{}"><title>{}</title></rect>"#,
                MARGIN - 4,
                width - 2 * MARGIN + 8,
                bottom - top,
                esc(&w.summary(self.d.trace.steps.len()))
            );
        }
        for (b, &y) in bands.iter().zip(ys) {
            if let Band::Step(r) = b {
                if r.raced {
                    s.rect(MARGIN, y, width - 2 * MARGIN, b.height(), "raced-fault", "");
                }
            }
        }
    }

    /// Lifelines and their headers, column heads.
    fn lifelines(&self, s: &mut Svg) {
        let head_y = self.head_y;
        for (i, l) in self.d.lifelines.iter().enumerate() {
            let x = self.center(i);
            s.line(x, head_y + HEADER, x, self.body_end + 4, "life", "");
            let class = match l.kind {
                LifelineKind::Process => "head-process",
                LifelineKind::Handler => "head-handler",
                LifelineKind::Kernel => "head-kernel",
            };
            let bw = self.column - 16;
            s.rect(x - bw / 2, head_y, bw, HEADER, class, r#" rx="4""#);
            s.text(x, head_y + HEADER / 2 + 4, "head-name", &l.name);
        }
        s.text(
            MARGIN + GUTTER - 6,
            head_y + HEADER / 2 + 4,
            "colhead step",
            "step",
        );
        s.text(
            self.file_x + 8,
            head_y + HEADER / 2 + 4,
            "colhead",
            "file after",
        );
        s.text(
            self.mapped_x + 8,
            head_y + HEADER / 2 + 4,
            "colhead",
            "mapped after",
        );
    }

    /// The rows: remarks, and each step with its file and mapped pages.
    fn rows(&self, s: &mut Svg) {
        let t = self.d.trace;
        let center = |i: usize| self.center(i);
        for (b, &y) in self.bands.iter().zip(&self.ys) {
            match b {
                Band::Remark { text, class } => {
                    let w = text_width(chars(text)) + 12;
                    s.rect(MARGIN + 2, y + 3, w, LINE + 3, "remark-bg", r#" rx="3""#);
                    s.text(MARGIN + 8, y + LINE, class, text);
                }
                Band::Step(r) => step(s, r, y, b.height(), &center),
            }
            if let Band::Step(r) = b {
                let h = b.height();
                let base = y + h / 2 + 4;
                s.text(MARGIN + GUTTER - 6, base, "step", &r.step.to_string());
                let prev = r.step.checked_sub(1).map(|p| &t.steps[p].observed);
                let o = &t.steps[r.step].observed;
                let file_class = if prev.is_some_and(|p| p.file != o.file) {
                    "changed"
                } else {
                    ""
                };
                let mapped_class = if prev.is_some_and(|p| p.mapped != o.mapped) {
                    "changed"
                } else {
                    ""
                };
                s.text(self.file_x + 8, base, file_class, &self.files[r.step]);
                s.text(self.mapped_x + 8, base, mapped_class, &self.mappeds[r.step]);
            }
        }
    }

    /// The end note and the legend.
    fn end(&self, s: &mut Svg) {
        let (box_class, verdict_class) = if self.sum.violated {
            ("end-violated", "verdict-violated")
        } else {
            ("end-reached", "verdict-reached")
        };
        s.rect(
            MARGIN,
            self.end_y,
            self.width - 2 * MARGIN,
            self.end_h,
            box_class,
            r#" rx="6""#,
        );
        for (k, l) in self.end_lines.iter().enumerate() {
            let class = if k == 0 { verdict_class } else { "" };
            s.text(
                MARGIN + 12,
                self.end_y + 7 + LINE * (k as i64 + 1) - 3,
                class,
                l,
            );
        }
        let legend = [
            "solid arrow: system call; dashed: its return; violet: page fault (MMU miss) and its \
             end; orange: userfaultfd MISSING event; red cross: SIGBUS",
            "blue notes: kernel steps (function, the lock operation it starts with, page); green \
             italics: what the step changed; orange band: race window; red: the raced fault",
        ];
        for (k, l) in legend.iter().enumerate() {
            s.text(MARGIN, self.legend_y + k as i64 * LINE, "dim", l);
        }
    }
}

/// The title block: what the trace is, its story, configuration and origin.
fn title(d: &Diagram, origin: &Origin, wrap_at: usize) -> Vec<(String, &'static str)> {
    let t = d.trace;
    let m = &t.meta;
    let mut title: Vec<(String, &str)> = vec![(
        format!(
            "{}: {} ({}, {} steps)",
            m.variant,
            m.property,
            m.kind.name(),
            t.steps.len()
        ),
        "title",
    )];
    for l in wrap(&m.description, wrap_at) {
        title.push((l, ""));
    }
    title.push((format!("config: {}", show::config(&m.config)), "dim"));
    if let Some(idle) = d.idle_note() {
        title.push((idle, "dim"));
    }
    title.push((format!("trace: {}", origin.trace), "dim"));
    title
}

/// The body bands: the steps, with remarks where the window opens, the race, where it closes,
/// and the discovery; and the first and last band of the race window.
fn bands<'d>(d: &'d Diagram, sum: &Summary) -> (Vec<Band<'d>>, (usize, usize)) {
    let t = d.trace;
    let c = &t.meta.config;
    let w = d.window.as_ref();
    let mut bands = Vec::new();
    let mut window_bands = (0, 0);
    for r in &d.rows {
        if let Some(w) = w.filter(|w| w.open == r.step) {
            window_bands.0 = bands.len();
            bands.push(Band::Remark {
                text: one_line(&w.opens(c)),
                class: "remark-window",
            });
        }
        bands.push(Band::Step(r));
        if let Some(race) = w.filter(|_| r.raced).and_then(|w| w.race()) {
            bands.push(Band::Remark {
                text: one_line(&race),
                class: "remark-race",
            });
        }
        if let Some(w) = w.filter(|w| w.last(t.steps.len()) == r.step) {
            window_bands.1 = bands.len();
            bands.push(Band::Remark {
                text: one_line(&w.closes()),
                class: "remark-window",
            });
        }
        if sum.discovered == r.step {
            bands.push(Band::Remark {
                text: one_line(&sum.discovery),
                class: if sum.violated {
                    "verdict-violated"
                } else {
                    "verdict-reached"
                },
            });
        }
    }
    (bands, window_bands)
}

/// Draws one step's arrow or note.
fn step(s: &mut Svg, r: &Row, y: i64, h: i64, center: &dyn Fn(usize) -> i64) {
    match r.shape {
        Shape::Note { on, style } => {
            let x = center(on);
            let bw = label_width(r) + 16;
            let class = match (r.raced, style) {
                (true, _) => "note-raced",
                (_, NoteStyle::Kernel) => "note-kernel",
                (_, NoteStyle::Access) => "note-access",
                (_, NoteStyle::Process) => "note-process",
            };
            s.rect(x - bw / 2, y + 4, bw, h - 8, class, r#" rx="3""#);
            for (k, (l, class)) in label(r).iter().enumerate() {
                s.text(x - bw / 2 + 8, y + 3 + LINE * (k as i64 + 1), class, l);
            }
        }
        Shape::Arrow { from, to, style } => {
            let (x1, x2) = (center(from), center(to));
            let ly = y + h - 9;
            let (class, marker) = arrow_look(style);
            s.line(
                x1,
                ly,
                x2,
                ly,
                class,
                &format!(r#" marker-end="url(#{marker})""#),
            );
            let mid = (x1 + x2) / 2;
            for (k, (l, class)) in label(r).iter().enumerate() {
                let class = if class.is_empty() {
                    "mid".to_string()
                } else {
                    format!("mid {class}")
                };
                s.text(mid, y + LINE * (k as i64 + 1), &class, l);
            }
        }
    }
}
