//! The model configuration flags every model command shares (`check`, `explore`, ...).

use clap::{Args, ValueEnum};
use spec::{ModelCfg, UffdPolicy, Variant};

/// The model configuration, on top of `ModelCfg::default()`.
#[derive(Args, Clone)]
pub struct CfgArgs {
    /// Kernel variant, or `all`.
    #[arg(long, default_value = "all")]
    pub variant: String,
    /// Huge pages in the file.
    #[arg(long)]
    pub pages: Option<u8>,
    /// First page of the hole.
    #[arg(long)]
    pub hole_start: Option<u8>,
    /// One past the last page of the hole.
    #[arg(long)]
    pub hole_end: Option<u8>,
    /// Mapping processes (1 to 3).
    #[arg(long)]
    pub mappers: Option<u8>,
    /// Touches per mapper.
    #[arg(long)]
    pub touches: Option<u8>,
    /// Touches may write.
    #[arg(long)]
    pub writes: bool,
    /// Mappers touch only outside the hole.
    #[arg(long)]
    pub outside_hole: bool,
    /// userfaultfd policy.
    #[arg(long, value_enum)]
    pub uffd: Option<UffdArg>,
    /// Fault mutex table size (fewer than pages makes hash collisions).
    #[arg(long)]
    pub slots: Option<u8>,
    /// Do not allocate the hole again after the punch.
    #[arg(long)]
    pub no_reuse: bool,
    /// Migrator processes (0 or 1): `move_pages(2)` of the hole's first page in mapper 0.
    #[arg(long)]
    pub migrators: Option<u8>,
    /// Huge pages in the pool (default: the file's pages plus one per migrator); fewer make
    /// the pool run out.
    #[arg(long)]
    pub pool: Option<u8>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum UffdArg {
    None,
    Sigbus,
    Copy,
}

impl CfgArgs {
    /// The configurations selected, one per variant; an error names the bad argument.
    pub fn configs(&self) -> Result<Vec<ModelCfg>, String> {
        let variants = if self.variant == "all" {
            Variant::ALL.to_vec()
        } else {
            vec![self.variant.parse::<Variant>()?]
        };
        variants
            .into_iter()
            .map(|variant| {
                let d = ModelCfg::for_variant(variant);
                let cfg = ModelCfg {
                    pages: self.pages.unwrap_or(d.pages),
                    hole_start: self.hole_start.unwrap_or(d.hole_start),
                    hole_end: self.hole_end.unwrap_or(d.hole_end),
                    mappers: self.mappers.unwrap_or(d.mappers),
                    touches: self.touches.unwrap_or(d.touches),
                    writes: self.writes || d.writes,
                    touch_area: if self.outside_hole {
                        spec::TouchArea::OutsideHole
                    } else {
                        d.touch_area
                    },
                    uffd: match self.uffd {
                        None => d.uffd,
                        Some(UffdArg::None) => UffdPolicy::None,
                        Some(UffdArg::Sigbus) => UffdPolicy::Sigbus,
                        Some(UffdArg::Copy) => UffdPolicy::Copy,
                    },
                    fault_mutex_slots: self.slots.unwrap_or(d.fault_mutex_slots),
                    hole_reuse: d.hole_reuse && !self.no_reuse,
                    migrators: self.migrators.unwrap_or(d.migrators),
                    pool: self.pool.or(d.pool),
                    ..d
                };
                cfg.validate().map(|()| cfg)
            })
            .collect()
    }
}
